"""An optional request body that is absent sends no body and no Content-Type; a present one
is sent, in every body format (JSON, form, XML), on GET as on POST."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from connectql.connectors.connector import Connector
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec_text
from connectql.spec.models import ConnectorSpec
from connectql.testing import FakeUpstream, RecordedRequest
from tests.support import execute, serving

FORMATS = [
    pytest.param("json", "application/json", id="json"),
    pytest.param("form", "application/x-www-form-urlencoded", id="form"),
    pytest.param("xml", "application/xml", id="xml"),
]


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    async def anything(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    up = FakeUpstream()
    up.app.router.add_route("*", "/{tail:.*}", anything)
    async with up:
        yield up


def body_spec(body: Any, body_format: str, method: str = "POST", **source: Any) -> ConnectorSpec:
    return ConnectorSpec.model_validate(
        {
            "connector": {"name": "bodies"},
            "config": {"base_url": {"required": True}},
            "source": {"base_url": "{config.base_url}", **source},
            "types": {"Note": {"kind": "input", "fields": {"title": "String", "tag": "String"}}},
            "operations": {
                "send": {
                    "kind": "mutation",
                    "args": {"input": "Note", "title": "String", "tag": "String"},
                    "request": {
                        "method": method,
                        "path": "/notes",
                        "body": body,
                        "body_format": body_format,
                    },
                    "response": {"type": "JSON"},
                }
            },
        }
    )


async def call(up: FakeUpstream, spec: ConnectorSpec, args: dict[str, Any]) -> RecordedRequest:
    connector = Connector(spec, {"base_url": up.url})
    try:
        await connector.execute("send", args)
    finally:
        await connector.stop()
    return up.requests[-1]


def no_body(sent: RecordedRequest) -> bool:
    return sent.body == b"" and "Content-Type" not in sent.headers


@pytest.mark.parametrize(("body_format", "content_type"), FORMATS)
@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_an_absent_optional_body_argument_sends_no_body(
    upstream: FakeUpstream, body_format: str, content_type: str, method: str
) -> None:
    spec = body_spec("{args.input}", body_format, method)
    assert no_body(await call(upstream, spec, {}))
    assert no_body(await call(upstream, spec, {"input": None}))
    sent = await call(upstream, spec, {"input": {"title": "hello"}})
    assert sent.headers["Content-Type"] == content_type
    assert b"hello" in sent.body


@pytest.mark.parametrize(("body_format", "content_type"), FORMATS)
async def test_a_body_mapping_whose_every_value_is_absent_sends_no_body(
    upstream: FakeUpstream, body_format: str, content_type: str
) -> None:
    spec = body_spec({"title": "{args.title}", "tag": "{args.tag}"}, body_format)
    assert no_body(await call(upstream, spec, {}))
    sent = await call(upstream, spec, {"tag": "urgent"})
    assert sent.headers["Content-Type"] == content_type
    assert b"urgent" in sent.body
    assert b"title" not in sent.body  # an absent value is left out, as in the query


async def test_a_literal_empty_body_is_still_sent(upstream: FakeUpstream) -> None:
    sent = await call(upstream, body_spec({}, "json"), {})
    assert sent.body == b"{}"
    assert sent.headers["Content-Type"] == "application/json"


async def test_a_source_content_type_is_not_sent_without_a_body(upstream: FakeUpstream) -> None:
    spec = body_spec("{args.input}", "json", headers={"Content-Type": "application/json"})
    assert no_body(await call(upstream, spec, {}))


async def test_an_optional_form_body_on_a_get_through_graphql(upstream: FakeUpstream) -> None:
    """The reported case: an imported GET with an optional form requestBody crashed with
    INTERNAL ("a form body must be a mapping") when the argument was left out."""
    text = """
connector: {name: search}
config: {base_url: {required: true}}
source: {base_url: "{config.base_url}"}
types:
  Filter: {kind: input, fields: {q: String, limit: Int}}
operations:
  find:
    args: {input: Filter, page: Int}
    request:
      path: /find
      query: {page: "{args.page}"}
      body: "{args.input}"
      body_format: form
    response: {type: JSON}
"""
    runtime = Runtime()
    runtime.add(load_spec_text(text, "search.yaml"), {"base_url": upstream.url})
    async with serving(runtime) as url:
        absent = await execute(url, "{ search { find(page: 2) } }")
        present = await execute(url, '{ search { find(input: {q: "a b", limit: 3}) } }')
    assert absent.errors is None, absent.errors
    assert absent.data == {"search": {"find": {"ok": True}}}
    first, second = upstream.requests[-2:]
    assert first.method == "GET"
    assert no_body(first)
    assert first.raw_path == "/find?page=2"
    assert present.errors is None, present.errors
    assert second.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert second.body == b"q=a+b&limit=3"


def test_the_importer_keeps_a_swagger2_form_body_required_when_a_field_is() -> None:
    from connectql.builder.openapi import import_openapi

    def doc(required: bool) -> dict[str, Any]:
        return {
            "swagger": "2.0",
            "info": {"title": "Forms", "version": "1"},
            "host": "api.example.com",
            "paths": {
                "/login": {
                    "post": {
                        "operationId": "login",
                        "consumes": ["application/x-www-form-urlencoded"],
                        "parameters": [
                            {
                                "name": "user",
                                "in": "formData",
                                "type": "string",
                                "required": required,
                            },
                            {"name": "remember", "in": "formData", "type": "boolean"},
                        ],
                        "responses": {"200": {"description": "ok"}},
                    }
                }
            },
        }

    required = import_openapi(doc(True)).spec["operations"]["login"]
    optional = import_openapi(doc(False)).spec["operations"]["login"]
    assert required["args"]["input"] == "LoginInput!"
    assert optional["args"]["input"] == "LoginInput"
    assert required["request"]["body_format"] == optional["request"]["body_format"] == "form"
