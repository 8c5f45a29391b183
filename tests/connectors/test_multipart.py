"""File uploads: `FileInput` arguments sent upstream as `multipart/form-data` parts.

The fake upstream is a transcription endpoint in the manner of OpenAI's: it parses the body
with aiohttp's own multipart reader and answers with what it found (names, filenames,
content types, sizes, hashes); the test also compares the bytes it kept. Files reach us as
the GraphQL multipart request spec sends them (the gql client, `upload_files=True`) or as
base64 inside JSON.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
import yaml
from aiohttp import web
from aiohttp.base_protocol import BaseProtocol
from gql import Client, FileVar, gql
from gql.transport.aiohttp import AIOHTTPTransport
from gql.transport.exceptions import TransportQueryError

from connectql.connectors.connector import Connector
from connectql.connectors.files import FilePart, encode_multipart
from connectql.connectors.standalone import StandaloneConnector
from connectql.errors import SpecErrors
from connectql.graph.limits import Limits
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec_text
from connectql.testing import FakeUpstream
from tests.support import ADMIN_KEY, execute, serving

KEY = "sk-upload-test-0123456789"
AUDIO = bytes(range(256)) * 40 + b"\r\n--not-a-boundary\r\n" + bytes(100)
"""Every byte value, CRLFs and something that looks like a boundary: bytes must pass as is."""
IMAGE = b"\x89PNG\r\n\x1a\n" + bytes(range(255, -1, -1)) * 3

SPEC = """
spec_version: 1
connector: {name: voice}
config:
  base_url: {required: true}
  api_key: {required: true, secret: true}
source:
  base_url: "{config.base_url}"
  auth: {type: bearer, token: "{config.api_key}"}
  retry: {max_attempts: 1}
types:
  Transcription:
    fields:
      text: String!
      parts: {type: "[Part!]!", from: received}
  Part:
    fields:
      name: String!
      filename: String
      contentType: {type: String, from: content_type}
      size: Int!
      sha256: String!
      text: String
operations:
  transcribe:
    kind: mutation
    args:
      file: FileInput!
      model: String!
      language: String
      granularities: "[String!]"
      attachments: "[FileInput!]"
      options: JSON
    request:
      method: POST
      path: /audio/transcriptions
      body_format: multipart
      body:
        file: "{args.file}"
        model: "{args.model}"
        language: "{args.language}"
        "timestamp_granularities[]": "{args.granularities}"
        attachment: "{args.attachments}"
        chunking_strategy: "{args.options}"
    response: {type: Transcription}
  checksum:
    kind: query
    args: {file: FileInput!}
    request:
      method: POST
      path: /audio/transcriptions
      body_format: multipart
      body: {file: "{args.file}", model: whisper-1}
    response: {type: Transcription}
"""
MUTATION = """
mutation ($file: FileInput!, $attachments: [FileInput!], $options: JSON) {
  voice {
    transcribe(file: $file, model: "whisper-1", granularities: ["word", "segment"],
               attachments: $attachments, options: $options) {
      text
      parts { name filename contentType size sha256 text }
    }
  }
}
"""


async def multipart_reader(request: web.Request) -> aiohttp.MultipartReader:
    """aiohttp's multipart reader over the body (FakeUpstream's recorder has read it)."""
    body = await request.read()
    loop = asyncio.get_running_loop()
    stream = aiohttp.StreamReader(BaseProtocol(loop), len(body) + 1, loop=loop)
    stream.feed_data(body)
    stream.feed_eof()
    return aiohttp.MultipartReader(request.headers, stream)


class Transcriber:
    """POST /audio/transcriptions: bearer auth, a multipart body with a `file` part."""

    def __init__(self) -> None:
        self.parts: list[dict[str, Any]] = []
        """Every part of the last request, with its raw bytes and headers."""

    async def transcribe(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {KEY}":
            return web.json_response({"error": {"message": "bad key"}}, status=401)
        if request.content_type != "multipart/form-data":
            return web.json_response({"error": {"message": "not multipart"}}, status=400)
        self.parts = []
        async for part in await multipart_reader(request):
            assert isinstance(part, aiohttp.BodyPartReader)
            data = await part.read()
            self.parts.append(
                {
                    "name": part.name,
                    "filename": part.filename,
                    "content_type": part.headers.get("Content-Type"),
                    "headers": sorted(part.headers),
                    "data": bytes(data),
                }
            )
        if not any(p["name"] == "file" and p["filename"] for p in self.parts):
            return web.json_response({"error": {"message": "file is required"}}, status=400)
        received = [
            {
                "name": p["name"],
                "filename": p["filename"],
                "content_type": p["content_type"],
                "size": len(p["data"]),
                "sha256": hashlib.sha256(p["data"]).hexdigest(),
                "text": None if p["filename"] else p["data"].decode(),
            }
            for p in self.parts
        ]
        return web.json_response({"text": "hello world", "received": received})


@pytest.fixture
async def transcriber() -> AsyncIterator[tuple[FakeUpstream, Transcriber]]:
    fake = Transcriber()
    app = web.Application()
    app.router.add_post("/audio/transcriptions", fake.transcribe)
    async with FakeUpstream(app) as upstream:
        yield upstream, fake


def voice_runtime(upstream: FakeUpstream, **limits: Any) -> Runtime:
    runtime = Runtime(limits=Limits(**limits))
    runtime.add(load_spec_text(SPEC, "voice.yaml"), {"base_url": upstream.url, "api_key": KEY})
    return runtime


async def upload(
    url: str, query: str, variables: dict[str, Any], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """Send `query` as a GraphQL multipart request with gql (files are FileVars)."""
    transport = AIOHTTPTransport(
        url=f"{url}/graphql", headers=headers or {"Authorization": f"Bearer {ADMIN_KEY}"}
    )
    async with Client(transport=transport) as session:
        request = gql(query)
        request.variable_values = variables
        result: dict[str, Any] = await session.execute(request, upload_files=True)
        return result


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_gql_multipart_upload_reaches_the_upstream_as_file_parts(
    transcriber: tuple[FakeUpstream, Transcriber],
) -> None:
    upstream, fake = transcriber
    async with serving(voice_runtime(upstream)) as url:
        result = await upload(
            url,
            MUTATION,
            {
                "file": {
                    "upload": FileVar(
                        io.BytesIO(AUDIO), filename="speech.wav", content_type="audio/wav"
                    )
                },
                "attachments": [
                    {
                        "upload": FileVar(
                            io.BytesIO(IMAGE), filename="a.png", content_type="image/png"
                        )
                    },
                    {"base64": "aGVsbG8=", "filename": "b.txt", "contentType": "text/plain"},
                ],
                "options": {"type": "auto", "threshold": 0.5},
            },
        )
    parts = result["voice"]["transcribe"]["parts"]
    assert [p["name"] for p in parts] == [
        "file",
        "model",
        "timestamp_granularities[]",
        "timestamp_granularities[]",
        "attachment",
        "attachment",
        "chunking_strategy",
    ]  # spec order; the null language is left out, lists repeat their field
    assert parts[0] == {
        "name": "file",
        "filename": "speech.wav",
        "contentType": "audio/wav",
        "size": len(AUDIO),
        "sha256": sha(AUDIO),
        "text": None,
    }
    assert [p["text"] for p in parts[1:4]] == ["whisper-1", "word", "segment"]
    assert [(p["filename"], p["contentType"], p["sha256"]) for p in parts[4:6]] == [
        ("a.png", "image/png", sha(IMAGE)),
        ("b.txt", "text/plain", sha(b"hello")),
    ]
    assert parts[6]["contentType"] == "application/json"
    assert parts[6]["text"] == '{"type":"auto","threshold":0.5}'
    assert fake.parts[0]["data"] == AUDIO  # the very bytes
    assert fake.parts[0]["headers"] == ["Content-Disposition", "Content-Type"]
    assert upstream.count("POST", "/audio/transcriptions") == 1


async def test_base64_file_in_a_json_body(transcriber: tuple[FakeUpstream, Transcriber]) -> None:
    upstream, fake = transcriber
    async with serving(voice_runtime(upstream)) as url:
        named = await execute(
            url,
            MUTATION,
            {
                "file": {
                    "base64": base64.b64encode(AUDIO).decode(),
                    "filename": "speech.wav",
                    "contentType": "audio/wav",
                }
            },
        )
        assert fake.parts[0]["data"] == AUDIO
        bare = await execute(url, MUTATION, {"file": {"base64": base64.b64encode(IMAGE).decode()}})
    assert named.errors is None
    first = named.data["voice"]["transcribe"]["parts"][0]
    assert (first["filename"], first["contentType"], first["sha256"]) == (
        "speech.wav",
        "audio/wav",
        sha(AUDIO),
    )
    assert bare.errors is None
    first = bare.data["voice"]["transcribe"]["parts"][0]
    assert (first["filename"], first["contentType"], first["size"]) == (
        "file",
        "application/octet-stream",
        len(IMAGE),
    )  # the defaults when neither is given


@pytest.mark.parametrize(
    ("file", "message"),
    [
        pytest.param({"filename": "x.wav"}, "exactly one of upload and base64", id="neither"),
        pytest.param({"base64": "not base64!"}, "not valid base64", id="bad-base64"),
    ],
)
async def test_bad_file_inputs_are_refused_without_calling(
    transcriber: tuple[FakeUpstream, Transcriber], file: dict[str, Any], message: str
) -> None:
    upstream, _ = transcriber
    async with serving(voice_runtime(upstream)) as url:
        result = await execute(url, MUTATION, {"file": file})
    assert result.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert message in result.errors[0]["message"]
    assert upstream.count() == 0


async def test_upload_and_base64_together_are_refused(
    transcriber: tuple[FakeUpstream, Transcriber],
) -> None:
    upstream, _ = transcriber
    async with serving(voice_runtime(upstream)) as url:
        transport = AIOHTTPTransport(
            url=f"{url}/graphql", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        )
        async with Client(transport=transport) as session:
            request = gql(MUTATION)
            request.variable_values = {
                "file": {"upload": FileVar(io.BytesIO(b"abc"), filename="a"), "base64": "YWJj"}
            }
            with pytest.raises(TransportQueryError, match="exactly one of upload and base64"):
                await session.execute(request, upload_files=True)
    assert upstream.count() == 0


async def test_upload_limits(transcriber: tuple[FakeUpstream, Transcriber]) -> None:
    """limits.max_upload_size bounds each file, uploaded or base64 (PAYLOAD_TOO_LARGE, no
    upstream call), and a whole multipart request (413 before it is read); base64 travels in
    JSON, so max_body_size bounds it first."""
    upstream, _ = transcriber
    runtime = voice_runtime(upstream, max_upload_size=4096, max_body_size=16_000)
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with serving(runtime) as url:
        in_json = await execute(
            url, MUTATION, {"file": {"base64": base64.b64encode(bytes(5000)).decode()}}
        )
        uploaded = await execute_upload(url, bytes(10_000), headers)
        async with aiohttp.ClientSession() as http:
            form = multipart_form(
                '{"query": "{ schemaVersion }", "variables": {"f": null}}',
                '{"0": ["variables.f"]}',
                **{"0": bytes(20_000)},
            )
            async with http.post(f"{url}/graphql", data=form, headers=headers) as response:
                status, body = response.status, await response.json()
        small = await upload(url, MUTATION, {"file": {"upload": FileVar(io.BytesIO(b"ok"))}})
    assert in_json.errors[0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert uploaded["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert (status, body["errors"][0]["extensions"]["code"]) == (413, "PAYLOAD_TOO_LARGE")
    assert small["voice"]["transcribe"]["parts"][0]["size"] == 2
    assert upstream.count() == 1  # only the small one


async def execute_upload(url: str, data: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """The transcribe mutation as a raw multipart request; the whole JSON answer."""
    operations = orjson.dumps({"query": MUTATION, "variables": {"file": {"upload": None}}})
    form = multipart_form(operations.decode(), '{"0": ["variables.file.upload"]}', **{"0": data})
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{url}/graphql", data=form, headers=headers) as response,
    ):
        answer: dict[str, Any] = await response.json()
        return answer


def multipart_form(operations: str, files_map: str, **files: bytes) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("operations", operations, content_type="application/json")
    form.add_field("map", files_map, content_type="application/json")
    for name, data in files.items():
        form.add_field(name, data, filename=f"{name}.bin")
    return form


CHECKSUM = '{"query": "query ($f: Upload!) { voice { checksum(file: {upload: $f}) { text } } }"'


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param({}, 400, id="plain-form-refused"),
        pytest.param({"Apollo-Require-Preflight": "true"}, 200, id="apollo-preflight-header"),
        pytest.param({"X-Apollo-Operation-Name": "checksum"}, 200, id="apollo-operation-name"),
        pytest.param({"Authorization": f"Bearer {ADMIN_KEY}"}, 200, id="api-key"),
    ],
)
async def test_multipart_needs_a_header_a_cross_site_form_cannot_send(
    transcriber: tuple[FakeUpstream, Transcriber], headers: dict[str, str], status: int
) -> None:
    """With the anonymous role on, a form another site posts from a visitor's browser would
    otherwise run: multipart requests need a header that makes browsers preflight."""
    upstream, _ = transcriber
    async with serving(voice_runtime(upstream)) as url, aiohttp.ClientSession() as http:
        form = multipart_form(
            CHECKSUM + ', "variables": {"f": null}}', '{"0": ["variables.f"]}', **{"0": AUDIO}
        )
        async with http.post(f"{url}/graphql", data=form, headers=headers) as response:
            got, body = response.status, await response.json()
    assert got == status, body
    if status == 400:
        assert "Apollo-Require-Preflight" in body["errors"][0]["message"]
        assert upstream.count() == 0
    else:
        assert body["data"]["voice"]["checksum"]["text"] == "hello world"


@pytest.mark.parametrize(
    ("operations", "files_map"),
    [
        pytest.param("not json", "{}", id="operations-not-json"),
        pytest.param('["a", "list"]', "{}", id="operations-not-an-object"),
        pytest.param(CHECKSUM + "}", '{"0": ["query"]}', id="file-replacing-the-query"),
        pytest.param(CHECKSUM + "}", '{"0": "variables.f"}', id="paths-not-a-list"),
        pytest.param(CHECKSUM + "}", '{"9": ["variables.f"]}', id="no-such-file"),
        pytest.param(CHECKSUM + ', "variables": {}}', '{"0": ["variables.a.b"]}', id="no-path"),
        pytest.param(CHECKSUM + ', "variables": {"f": [1]}}', '{"0": ["variables.f.x"]}', id="idx"),
    ],
)
async def test_malformed_multipart_requests_are_400(
    transcriber: tuple[FakeUpstream, Transcriber], operations: str, files_map: str
) -> None:
    upstream, _ = transcriber
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with serving(voice_runtime(upstream)) as url, aiohttp.ClientSession() as http:
        form = multipart_form(operations, files_map, **{"0": b"abc"})
        async with http.post(f"{url}/graphql", data=form, headers=headers) as response:
            status, body = response.status, await response.json()
        broken = b"--x\r\nContent-Disposition: form-data; name=operations\r\n\r\n{"
        async with http.post(
            f"{url}/graphql",
            data=broken,
            headers={**headers, "Content-Type": "multipart/form-data; boundary=x"},
        ) as response:
            truncated = response.status, await response.json()
    assert status == 400, body
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert truncated[0] == 400, truncated[1]
    assert upstream.count() == 0


async def test_a_file_cannot_be_a_literal_nor_an_upload_come_from_json(
    transcriber: tuple[FakeUpstream, Transcriber],
) -> None:
    upstream, _ = transcriber
    async with serving(voice_runtime(upstream)) as url:
        literal = await execute(
            url, 'mutation { voice { transcribe(file: {upload: "x"}, model: "m") { text } } }'
        )
        from_json = await execute(url, MUTATION, {"file": {"upload": "a string"}})
    assert "send it as a variable" in literal.errors[0]["message"]
    assert "multipart request" in from_json.errors[0]["message"]
    assert upstream.count() == 0


async def test_standalone_call_takes_file_parts_and_bytes(
    transcriber: tuple[FakeUpstream, Transcriber],
) -> None:
    upstream, fake = transcriber
    spec = load_spec_text(SPEC, "voice.yaml")
    connector = Connector(spec, {"base_url": upstream.url, "api_key": KEY})
    async with StandaloneConnector(connector) as voice:
        reply = await voice.call(
            "transcribe",
            file=FilePart("speech.wav", "audio/wav", AUDIO),
            model="whisper-1",
            attachments=[b"raw bytes"],
        )
    assert reply["parts"][0]["sha256"] == sha(AUDIO)
    assert (fake.parts[2]["name"], fake.parts[2]["filename"]) == ("attachment", "attachment")
    assert fake.parts[2]["data"] == b"raw bytes"


def test_encoding_escapes_names_and_refuses_header_injection() -> None:
    body, content_type = encode_multipart(
        {
            'we"ird\r\nname': "v",
            "f": FilePart('a"b\r\nX-Injected: 1.txt', "text/plain\r\nX-Injected: 1", b"data"),
            "flag": True,
            "n": 3,
        },
        boundary="b0und",
    )
    assert content_type == "multipart/form-data; boundary=b0und"
    assert body == (
        b'--b0und\r\nContent-Disposition: form-data; name="we%22ird%0D%0Aname"\r\n\r\nv\r\n'
        b'--b0und\r\nContent-Disposition: form-data; name="f"; '
        b'filename="a%22b%0D%0AX-Injected: 1.txt"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\ndata\r\n"
        b'--b0und\r\nContent-Disposition: form-data; name="flag"\r\n\r\ntrue\r\n'
        b'--b0und\r\nContent-Disposition: form-data; name="n"\r\n\r\n3\r\n'
        b"--b0und--\r\n"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            {"body_format": "json"}, "needs request.body_format: multipart", id="not-multipart"
        ),
        pytest.param({"hook": "nothing"}, None, id="a-hook-may-take-files"),
    ],
)
def test_spec_checks_file_arguments(change: dict[str, Any], message: str | None) -> None:
    op: dict[str, Any] = {
        "kind": "mutation",
        "args": {"file": "FileInput!"},
        "request": {"method": "POST", "body_format": "multipart", "body": {"f": "{args.file}"}},
        "response": {"type": "JSON"},
    }
    if "hook" in change:
        op["hook"] = change["hook"]
        op["request"]["body_format"] = "json"
    else:
        op["request"].update(change)
    data = {
        "connector": {"name": "files"},
        "source": {"base_url": "http://127.0.0.1"},
        "types": {"Doc": {"kind": "input", "fields": {"file": "FileInput"}}},
        "operations": {"send": op},
    }
    with pytest.raises(SpecErrors) as caught:
        load_spec_text(yaml.safe_dump(data), "files.yaml")
    found = [e.message for e in caught.value.errors]
    assert any("FileInput is for operation arguments only" in m for m in found)
    if message is not None:
        assert any(message in m for m in found), found
    else:
        assert not any("body_format" in m for m in found), found
