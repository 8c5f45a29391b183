"""Binary results: an upstream that answers with bytes (audio, a zip) gives a typed `Binary`
(content type, filename, size, SHA-256) whose bytes come back exactly, inline as base64 or
from a short-lived download link under /_connectql/files/, which refuses expired, forged and
evicted tokens."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web

from connectql.errors import SpecErrors
from connectql.graph.limits import Limits
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec_text
from connectql.testing import FakeUpstream
from connectql.testing.clock import FakeClock
from tests.support import execute, serving

KEY = "sk-binary-test-0123456789"


def make_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("report.csv", "id,total\n1,42\n" * 200)
        archive.writestr("notes.txt", "every byte counts\r\n")
    return out.getvalue()


ZIP = make_zip()
BIG = bytes(range(256)) * 1200  # 300 KiB, over the inline limit the tests set


def speech_bytes(text: str) -> bytes:
    """What the fake's text-to-speech answers: an MP3-looking header and text-derived bytes."""
    return b"ID3\x04\x00\x00\x00\x00\x00\x00" + hashlib.sha512(text.encode()).digest() * 64


class FilesApi:
    """A file API (OpenAI's /files/{id}/content, /audio/speech) behind a bearer token."""

    @staticmethod
    def app() -> web.Application:
        @web.middleware
        async def auth(request: web.Request, handler: Any) -> web.StreamResponse:
            if request.headers.get("Authorization") != f"Bearer {KEY}":
                return web.json_response({"error": {"message": "bad key"}}, status=401)
            return await handler(request)

        async def content(request: web.Request) -> web.Response:
            file_id = request.match_info["id"]
            if file_id == "report":
                disposition = 'attachment; filename="report.zip"'
                return web.Response(
                    body=ZIP,
                    content_type="application/zip",
                    headers={"Content-Disposition": disposition},
                )
            if file_id == "big":
                return web.Response(body=BIG, content_type="image/png")
            if file_id == "empty":
                return web.Response(body=b"", content_type="application/octet-stream")
            if file_id == "page":  # what a sloppy upstream may label its bytes
                return web.Response(body=b"<script>alert(1)</script>", content_type="text/html")
            return web.json_response({"error": {"message": "No such file"}}, status=404)

        async def speech(request: web.Request) -> web.Response:
            body = await request.json()
            return web.Response(body=speech_bytes(body["input"]), content_type="audio/mpeg")

        async def messages(request: web.Request) -> web.Response:
            return web.json_response(
                [{"id": "m1", "file_id": "report"}, {"id": "m2", "file_id": "big"}]
            )

        app = web.Application(middlewares=[auth])
        app.router.add_get("/files/{id}/content", content)
        app.router.add_post("/audio/speech", speech)
        app.router.add_get("/messages", messages)
        return app


SPEC = {
    "spec_version": 1,
    "connector": {"name": "store"},
    "config": {"base_url": {"required": True}, "api_key": {"required": True, "secret": True}},
    "source": {
        "base_url": "{config.base_url}",
        "auth": {"type": "bearer", "token": "{config.api_key}"},
        "retry": {"max_attempts": 1},
    },
    "types": {
        "Message": {
            "fields": {
                "id": "ID!",
                "attachment": {
                    "type": "Binary",
                    "resolve": {"operation": "fileContent", "args": {"id": "{parent.file_id}"}},
                },
            }
        }
    },
    "operations": {
        "fileContent": {
            "args": {"id": "ID!"},
            "request": {"path": "/files/{args.id}/content"},
            "response": {"type": "Binary"},
        },
        "messages": {"request": {"path": "/messages"}, "response": {"type": "[Message!]!"}},
        "speech": {
            "kind": "mutation",
            "args": {"input": "String!", "voice": "String"},
            "request": {
                "method": "POST",
                "path": "/audio/speech",
                "body": {"model": "tts-1", "input": "{args.input}", "voice": "{args.voice}"},
            },
            "response": {"type": "Binary!"},
        },
    },
}
FIELDS = "contentType filename size sha256 base64 url"


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(FilesApi.app()) as fake:
        yield fake


def store_runtime(upstream: FakeUpstream, clock: FakeClock | None = None, **limits: Any) -> Runtime:
    runtime = Runtime(clock=clock, limits=Limits(**{"max_inline_binary": 100_000, **limits}))
    spec = load_spec_text(yaml.safe_dump(SPEC), "store.yaml")
    runtime.add(spec, {"base_url": upstream.url, "api_key": KEY})
    return runtime


async def fetch(url: str) -> tuple[int, bytes, dict[str, str]]:
    """GET without any credentials, as a browser's <audio src> would."""
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.read(), dict(response.headers)


async def test_a_zip_comes_back_exactly_inline_and_by_download(upstream: FakeUpstream) -> None:
    async with serving(store_runtime(upstream)) as url:
        result = await execute(url, f'{{ store {{ fileContent(id: "report") {{ {FIELDS} }} }} }}')
        assert result.errors is None
        got = result.data["store"]["fileContent"]
        status, body, headers = await fetch(got["url"])
    assert {k: got[k] for k in ("contentType", "filename", "size", "sha256")} == {
        "contentType": "application/zip",
        "filename": "report.zip",
        "size": len(ZIP),
        "sha256": hashlib.sha256(ZIP).hexdigest(),
    }
    assert base64.b64decode(got["base64"]) == ZIP
    assert got["url"].startswith(f"{url}/_connectql/files/")
    assert (status, body) == (200, ZIP)
    assert headers["Content-Type"] == "application/zip"
    assert headers["Content-Disposition"].startswith('attachment; filename="report.zip"')
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert zipfile.ZipFile(io.BytesIO(body)).read("notes.txt") == b"every byte counts\r\n"


async def test_text_to_speech_mutation_returns_audio(upstream: FakeUpstream) -> None:
    async with serving(store_runtime(upstream)) as url:
        result = await execute(
            url, f'mutation {{ store {{ speech(input: "Hello there") {{ {FIELDS} }} }} }}'
        )
        got = result.data["store"]["speech"]
        status, body, _ = await fetch(got["url"])
    audio = speech_bytes("Hello there")
    assert (got["contentType"], got["size"], got["filename"]) == ("audio/mpeg", len(audio), None)
    assert base64.b64decode(got["base64"]) == audio
    assert (status, body) == (200, audio)
    assert upstream.requests[-1].json() == {"model": "tts-1", "input": "Hello there"}


async def test_large_files_are_fetched_by_url_not_inline(upstream: FakeUpstream) -> None:
    async with serving(store_runtime(upstream)) as url:
        result = await execute(url, f'{{ store {{ fileContent(id: "big") {{ {FIELDS} }} }} }}')
        got = result.data["store"]["fileContent"]
        _, body, headers = await fetch(got["url"])
    assert got["base64"] is None
    assert result.errors[0]["path"] == ["store", "fileContent", "base64"]
    assert result.errors[0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert "fetch it by url" in result.errors[0]["message"]
    assert (got["size"], got["sha256"]) == (len(BIG), hashlib.sha256(BIG).hexdigest())
    assert body == BIG
    assert headers["Content-Disposition"].startswith('attachment; filename="file"')


async def test_linked_binary_fields_and_empty_bodies(upstream: FakeUpstream) -> None:
    async with serving(store_runtime(upstream)) as url:
        listed = await execute(url, "{ store { messages { id attachment { size sha256 } } } }")
        empty = await execute(url, '{ store { fileContent(id: "empty") { size sha256 base64 } } }')
    assert listed.errors is None
    assert [m["attachment"]["size"] for m in listed.data["store"]["messages"]] == [
        len(ZIP),
        len(BIG),
    ]
    assert empty.data["store"]["fileContent"] == {
        "size": 0,
        "sha256": hashlib.sha256(b"").hexdigest(),
        "base64": "",
    }


async def test_upstream_errors_and_body_limits_still_apply(upstream: FakeUpstream) -> None:
    limited = store_runtime(upstream)
    spec = dict(
        SPEC, connector={"name": "small"}, source={**SPEC["source"], "max_body_bytes": 1000}
    )
    limited.add(
        load_spec_text(yaml.safe_dump(spec), "small.yaml"),
        {"base_url": upstream.url, "api_key": KEY},
    )
    async with serving(limited) as url:
        missing = await execute(url, '{ store { fileContent(id: "nope") { size } } }')
        too_big = await execute(url, '{ small { fileContent(id: "big") { size } } }')
    assert missing.errors[0]["extensions"]["code"] == "NOT_FOUND"
    assert too_big.errors[0]["extensions"]["code"] == "BAD_RESPONSE"
    assert "source.max_body_bytes" in too_big.errors[0]["message"]


async def test_a_download_labelled_html_is_not_rendered_as_a_page(upstream: FakeUpstream) -> None:
    async with serving(store_runtime(upstream)) as url:
        result = await execute(url, '{ store { fileContent(id: "page") { contentType url } } }')
        got = result.data["store"]["fileContent"]
        _, body, headers = await fetch(got["url"])
    assert got["contentType"] == "text/html"
    assert body == b"<script>alert(1)</script>"
    assert headers["Content-Disposition"].startswith("attachment")
    assert headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert headers["X-Content-Type-Options"] == "nosniff"


async def test_expired_forged_and_evicted_links_are_refused(upstream: FakeUpstream) -> None:
    clock = FakeClock()
    runtime = store_runtime(upstream, clock, download_ttl=60, max_download_bytes=len(BIG) + 1)
    other = store_runtime(upstream)  # its own store and key
    async with serving(runtime) as url, serving(other) as other_url:
        query = '{ store { fileContent(id: "report") { url } } }'
        link = (await execute(url, query)).data["store"]["fileContent"]["url"]
        foreign = (await execute(other_url, query)).data["store"]["fileContent"]["url"]
        token = link.rsplit("/", 1)[1]
        flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
        fresh = await fetch(link)
        forged = await fetch(f"{url}/_connectql/files/{flipped}")
        garbage = await fetch(f"{url}/_connectql/files/not-a-token")
        replayed = await fetch(f"{url}/_connectql/files/{foreign.rsplit('/', 1)[1]}")
        clock.advance(61)
        expired = await fetch(link)
        first = (await execute(url, query)).data["store"]["fileContent"]["url"]
        await execute(url, '{ store { fileContent(id: "big") { url } } }')  # pushes it out
        evicted = await fetch(first)
    assert fresh[:2] == (200, ZIP)
    for refused in (forged, garbage, replayed):
        assert refused[0] == 404
        assert b"NOT_FOUND" in refused[1]
    assert expired[0] == 410
    assert b"expired" in expired[1]
    assert evicted[0] == 410
    assert b"no longer held" in evicted[1]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            {"operations.fileContent.response.type": "[Binary!]"},
            "a Binary result is the whole response body",
            id="binary-list",
        ),
        pytest.param(
            {"types.Binary": {"fields": {"x": "Int"}}},
            "taken by a built-in type",
            id="type-named-binary",
        ),
        pytest.param(
            {"types.Message.fields.raw": "Binary"},
            "must resolve through an operation",
            id="binary-field-without-resolve",
        ),
    ],
)
def test_spec_checks_binary(change: dict[str, Any], message: str) -> None:
    data = yaml.safe_load(yaml.safe_dump(SPEC))
    for dotted, value in change.items():
        *parents, last = dotted.split(".")
        node = data
        for part in parents:
            node = node[part]
        node[last] = value
    with pytest.raises(SpecErrors) as caught:
        load_spec_text(yaml.safe_dump(data), "store.yaml")
    assert any(message in e.message for e in caught.value.errors), caught.value.errors
