"""OpenAPI import of files: multipart request bodies become FileInput arguments sent as file
parts, binary responses (audio, images, archives) become `Binary` results; the report says
which operations move files. The imported spec then serves both against a fake upstream."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.base_protocol import BaseProtocol

from connectql.builder.openapi import import_openapi
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec_text
from connectql.testing import FakeUpstream
from tests.support import execute, serving

AUDIO = b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(range(256)) * 8
SPEECH = b"ID3\x04" + bytes(range(255, -1, -1)) * 16

BINARY_STRING = {"type": "string", "format": "binary"}
OPENAPI_30: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Voice", "version": "1.0"},
    "servers": [{"url": "https://api.example.com/v1"}],
    "paths": {
        "/audio/transcriptions": {
            "post": {
                "operationId": "createTranscription",
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {"$ref": "#/components/schemas/TranscriptionRequest"}
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "text": {"type": "string"},
                                        "meta": {"$ref": "#/components/schemas/Binary"},
                                    },
                                }
                            }
                        },
                    }
                },
            }
        },
        "/audio/speech": {
            "post": {
                "operationId": "createSpeech",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["input"],
                                "properties": {"input": {"type": "string"}},
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "audio",
                        "content": {"audio/mpeg": {"schema": BINARY_STRING}},
                    }
                },
            }
        },
        "/files/{id}/content": {
            "get": {
                "operationId": "downloadFile",
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {
                        "description": "the file",
                        "content": {"application/octet-stream": {"schema": BINARY_STRING}},
                    }
                },
            }
        },
        "/images/{id}": {
            "get": {
                "operationId": "getImage",
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {"200": {"description": "png", "content": {"image/png": {}}}},
            }
        },
    },
    "components": {
        "schemas": {
            "TranscriptionRequest": {
                "type": "object",
                "required": ["file", "model"],
                "properties": {
                    "file": {**BINARY_STRING, "description": "The audio file."},
                    "model": {"type": "string"},
                    "language": {"type": "string"},
                    "temperature": {"type": "number"},
                    "timestamp_granularities[]": {
                        "type": "array",
                        "items": {"type": "string", "enum": ["word", "segment"]},
                    },
                    "extra_files": {"type": "array", "items": BINARY_STRING},
                    "chunking_strategy": {
                        "type": "object",
                        "properties": {"type": {"type": "string"}},
                    },
                },
            },
            "Binary": {"type": "object", "properties": {"bits": {"type": "integer"}}},
        }
    },
}


def test_a_multipart_upload_becomes_file_arguments_and_parts() -> None:
    result = import_openapi(OPENAPI_30)
    op = result.spec["operations"]["createTranscription"]
    assert op["kind"] == "mutation"
    assert op["request"]["body_format"] == "multipart"
    assert op["request"]["body"] == {
        "file": "{args.file}",
        "model": "{args.model}",
        "language": "{args.language}",
        "temperature": "{args.temperature}",
        "timestamp_granularities[]": "{args.timestampGranularities}",
        "extra_files": "{args.extraFiles}",
        "chunking_strategy": "{args.chunkingStrategy}",
    }
    assert op["args"]["file"] == {"type": "FileInput!", "description": "The audio file."}
    assert op["args"]["model"] == "String!"
    assert op["args"]["extraFiles"] == "[FileInput!]"
    assert op["args"]["timestampGranularities"].startswith("[")
    chunking = op["args"]["chunkingStrategy"]
    assert result.spec["types"][chunking]["kind"] == "input"  # sent as a JSON part
    assert result.report.files["createTranscription"] == (
        "multipart upload, file parts: file, extra_files"
    )
    load_spec_text(result.yaml(), "voice.yaml")  # the written spec loads


def test_binary_responses_become_binary_results() -> None:
    result = import_openapi(OPENAPI_30)
    ops = result.spec["operations"]
    assert ops["createSpeech"]["response"] == {"type": "Binary"}
    assert ops["downloadFile"]["response"] == {"type": "Binary"}
    assert ops["getImage"]["response"] == {"type": "Binary"}  # by its media type alone
    assert ops["createTranscription"]["response"]["type"] != "Binary"
    assert result.report.files["createSpeech"] == "Binary result (audio/mpeg)"
    assert result.report.files["getImage"] == "Binary result (image/png)"
    assert "files in 4 operations:" in result.report.text()
    assert "downloadFile: Binary result (application/octet-stream)" in result.report.text()
    assert "Binary" not in result.spec["types"]  # a schema named Binary is renamed
    assert any(t.startswith("Binary") and t != "Binary" for t in result.spec["types"])


def test_openapi_31_file_contents_and_swagger_2_file_parameters() -> None:
    openapi_31 = {
        "openapi": "3.1.0",
        "info": {"title": "Docs", "version": "1"},
        "servers": [{"url": "https://docs.example.com"}],
        "paths": {
            "/upload": {
                "post": {
                    "operationId": "upload",
                    "requestBody": {
                        "content": {
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "doc": {"type": "string", "contentMediaType": "text/csv"},
                                        "note": {"type": ["string", "null"]},
                                    },
                                }
                            }
                        }
                    },
                    "responses": {
                        "200": {
                            "description": "a zip of results",
                            "content": {
                                "application/vnd.example.bundle": {
                                    "schema": {
                                        "type": "string",
                                        "contentMediaType": "application/zip",
                                    }
                                }
                            },
                        }
                    },
                }
            }
        },
    }
    swagger_2 = {
        "swagger": "2.0",
        "info": {"title": "Pets", "version": "1"},
        "host": "pets.example.com",
        "paths": {
            "/pets/{id}/photo": {
                "post": {
                    "operationId": "uploadPhoto",
                    "consumes": ["multipart/form-data"],
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "type": "integer"},
                        {"name": "photo", "in": "formData", "required": True, "type": "file"},
                        {"name": "caption", "in": "formData", "type": "string"},
                    ],
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
    }
    upload = import_openapi(openapi_31).spec["operations"]["upload"]
    assert upload["args"] == {"doc": "FileInput", "note": "String"}  # the body is optional
    assert upload["response"] == {"type": "Binary"}
    photo = import_openapi(swagger_2).spec["operations"]["uploadPhoto"]
    assert photo["args"]["photo"] == "FileInput!"
    assert photo["request"]["body"] == {"photo": "{args.photo}", "caption": "{args.caption}"}
    assert photo["request"]["body_format"] == "multipart"


async def _parts(request: web.Request) -> list[tuple[str | None, str | None, str | None, bytes]]:
    """(name, filename, content type, bytes) of each part, read by aiohttp's multipart reader
    from the body FakeUpstream's recorder has already read."""
    body = await request.read()
    loop = asyncio.get_running_loop()
    stream = aiohttp.StreamReader(BaseProtocol(loop), len(body) + 1, loop=loop)
    stream.feed_data(body)
    stream.feed_eof()
    found = []
    async for part in aiohttp.MultipartReader(request.headers, stream):
        assert isinstance(part, aiohttp.BodyPartReader)
        found.append(
            (part.name, part.filename, part.headers.get("Content-Type"), await part.read())
        )
    return found


def voice_app(seen: list[Any]) -> web.Application:
    async def transcribe(request: web.Request) -> web.Response:
        parts = await _parts(request)
        seen.extend(parts)
        audio = next(data for name, _, _, data in parts if name == "file")
        return web.json_response({"text": hashlib.sha256(audio).hexdigest()})

    async def speech(request: web.Request) -> web.Response:
        return web.Response(body=SPEECH, content_type="audio/mpeg")

    app = web.Application()
    app.router.add_post("/v1/audio/transcriptions", transcribe)
    app.router.add_post("/v1/audio/speech", speech)
    return app


@pytest.mark.parametrize("bad_file", [False, True], ids=["upload", "invalid-base64"])
async def test_the_imported_spec_uploads_and_downloads_files(bad_file: bool) -> None:
    result = import_openapi(OPENAPI_30)
    seen: list[Any] = []
    async with FakeUpstream(voice_app(seen)) as fake:
        runtime = Runtime()
        runtime.add(load_spec_text(result.yaml(), "voice.yaml"), {"base_url": f"{fake.url}/v1"})
        async with serving(runtime) as url:
            encoded = "%%%" if bad_file else base64.b64encode(AUDIO).decode()
            heard = await execute(
                url,
                "mutation ($f: FileInput!) { voice { createTranscription("
                'file: $f, model: "whisper-1", timestampGranularities: [WORD]) { text } } }',
                {"f": {"base64": encoded, "filename": "a.wav", "contentType": "audio/wav"}},
            )
            said = await execute(
                url, 'mutation { voice { createSpeech(input: {input: "hi"}) { size base64 } } }'
            )
    if bad_file:
        assert heard.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert fake.count("POST", "/v1/audio/transcriptions") == 0
    else:
        assert heard.errors is None
        assert (
            heard.data["voice"]["createTranscription"]["text"] == hashlib.sha256(AUDIO).hexdigest()
        )
        assert seen == [
            ("file", "a.wav", "audio/wav", AUDIO),
            ("model", None, None, b"whisper-1"),
            ("timestamp_granularities[]", None, None, b"word"),
        ]
    assert said.data["voice"]["createSpeech"] == {
        "size": len(SPEECH),
        "base64": base64.b64encode(SPEECH).decode(),
    }
