"""OpenAPI parameter styles on the wire: the exact query string, path and header a real fake
upstream receives, for every style, explode and value of OpenAPI 3.1's "Style Examples"
table (color = "blue" / ["blue", "black", "brown"] / {"R": 100, "G": 200, "B": 150})."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import yaml
from aiohttp import web

from connectql.builder.openapi import import_openapi
from connectql.connectors.connector import Connector
from connectql.errors import SpecErrors
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec_text
from connectql.spec.models import ConnectorSpec
from connectql.testing import FakeUpstream
from tests.support import bookstore_runtime, execute, serving

STRING = "blue"
ARRAY = ["blue", "black", "brown"]
OBJECT = {"R": 100, "G": 200, "B": 150}
INTEGER = {"type": "integer"}


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    async def anything(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    up = FakeUpstream()
    up.app.router.add_route("*", "/{tail:.*}", anything)
    async with up:
        yield up


def probe_spec(arg: dict[str, Any], request: dict[str, Any]) -> ConnectorSpec:
    return ConnectorSpec.model_validate(
        {
            "connector": {"name": "styles"},
            "config": {"base_url": {"required": True}},
            "source": {"base_url": "{config.base_url}"},
            "operations": {
                "probe": {
                    "args": {"color": {"type": "JSON", **arg}},
                    "request": request,
                    "response": {"type": "JSON"},
                }
            },
        }
    )


async def sent(up: FakeUpstream, spec: ConnectorSpec, value: Any) -> str:
    """The raw path and query the upstream received for `color = value`."""
    connector = Connector(spec, {"base_url": up.url})
    try:
        await connector.execute("probe", {"color": value})
    finally:
        await connector.stop()
    return up.requests[-1].raw_path


def style(name: str | None, explode: bool | None) -> dict[str, Any]:
    return {
        **({"style": name} if name else {}),
        **({"explode": explode} if explode is not None else {}),
    }


# (style, explode, string, array, object) as the table has them; None: n/a in the table
QUERY_TABLE = [
    pytest.param(
        "form",
        False,
        "color=blue",
        "color=blue,black,brown",
        "color=R,100,G,200,B,150",
        id="form",
    ),
    pytest.param(
        "form",
        True,
        "color=blue",
        "color=blue&color=black&color=brown",
        "R=100&G=200&B=150",
        id="form-explode",
    ),
    pytest.param(
        "spaceDelimited",
        False,
        None,
        "color=blue%20black%20brown",
        "color=R%20100%20G%20200%20B%20150",
        id="spaceDelimited",
    ),
    pytest.param(
        "pipeDelimited",
        False,
        None,
        "color=blue%7Cblack%7Cbrown",
        "color=R%7C100%7CG%7C200%7CB%7C150",
        id="pipeDelimited",
    ),
    pytest.param(
        "deepObject",
        True,
        None,
        None,
        "color%5BR%5D=100&color%5BG%5D=200&color%5BB%5D=150",
        id="deepObject",
    ),
]

PATH_TABLE = [
    pytest.param("simple", False, "blue", "blue,black,brown", "R,100,G,200,B,150", id="simple"),
    pytest.param(
        "simple", True, "blue", "blue,black,brown", "R=100,G=200,B=150", id="simple-explode"
    ),
    pytest.param("label", False, ".blue", ".blue,black,brown", ".R,100,G,200,B,150", id="label"),
    pytest.param(
        "label", True, ".blue", ".blue.black.brown", ".R=100.G=200.B=150", id="label-explode"
    ),
    pytest.param(
        "matrix",
        False,
        ";color=blue",
        ";color=blue,black,brown",
        ";color=R,100,G,200,B,150",
        id="matrix",
    ),
    pytest.param(
        "matrix",
        True,
        ";color=blue",
        ";color=blue;color=black;color=brown",
        ";R=100;G=200;B=150",
        id="matrix-explode",
    ),
]


@pytest.mark.parametrize(("name", "explode", "string", "array", "obj"), QUERY_TABLE)
async def test_query_styles_follow_the_openapi_table(
    upstream: FakeUpstream,
    name: str,
    explode: bool,
    string: str | None,
    array: str | None,
    obj: str,
) -> None:
    spec = probe_spec(style(name, explode), {"path": "/items", "query": {"color": "{args.color}"}})
    for value, expected in ((STRING, string), (ARRAY, array), (OBJECT, obj)):
        if expected is not None:
            assert await sent(upstream, spec, value) == f"/items?{expected}", value


@pytest.mark.parametrize(("name", "explode", "string", "array", "obj"), PATH_TABLE)
async def test_path_styles_follow_the_openapi_table(
    upstream: FakeUpstream, name: str, explode: bool, string: str, array: str, obj: str
) -> None:
    spec = probe_spec(style(name, explode), {"path": "/items/{args.color}"})
    for value, expected in ((STRING, string), (ARRAY, array), (OBJECT, obj)):
        assert await sent(upstream, spec, value) == f"/items/{expected}", value


@pytest.mark.parametrize(
    ("explode", "array", "obj"),
    [
        pytest.param(False, "blue,black,brown", "R,100,G,200,B,150", id="simple"),
        pytest.param(True, "blue,black,brown", "R=100,G=200,B=150", id="simple-explode"),
    ],
)
async def test_header_simple_style_follows_the_openapi_table(
    upstream: FakeUpstream, explode: bool, array: str, obj: str
) -> None:
    spec = probe_spec(
        style("simple", explode), {"path": "/items", "headers": {"X-Color": "{args.color}"}}
    )
    for value, expected in ((STRING, "blue"), (ARRAY, array), (OBJECT, obj)):
        await sent(upstream, spec, value)
        assert upstream.requests[-1].headers["X-Color"] == expected, value


async def test_defaults_are_openapis_form_explode_in_the_query_and_simple_in_the_path(
    upstream: FakeUpstream,
) -> None:
    query = probe_spec({}, {"path": "/items", "query": {"color": "{args.color}"}})
    assert await sent(upstream, query, ARRAY) == "/items?color=blue&color=black&color=brown"
    assert await sent(upstream, query, OBJECT) == "/items?R=100&G=200&B=150"
    path = probe_spec({}, {"path": "/items/{args.color}"})
    assert await sent(upstream, path, ARRAY) == "/items/blue,black,brown"
    assert await sent(upstream, path, OBJECT) == "/items/R,100,G,200,B,150"


async def test_data_is_percent_encoded_and_delimiters_are_not(upstream: FakeUpstream) -> None:
    """RFC 3986 with allowReserved false: reserved characters inside a value are encoded,
    spaces as %20 (not +), non-ASCII as UTF-8; the style's own delimiters stay."""
    tricky = "a b&c=d/e?f#g+h[i]ü"
    encoded = "a%20b%26c%3Dd%2Fe%3Ff%23g%2Bh%5Bi%5D%C3%BC"
    query = probe_spec({}, {"path": "/items", "query": {"q": "{args.color}"}})
    assert await sent(upstream, query, tricky) == f"/items?q={encoded}"
    assert upstream.requests[-1].query["q"] == tricky  # the upstream decodes it back
    deep = probe_spec(
        style("deepObject", True), {"path": "/items", "query": {"filter": "{args.color}"}}
    )
    assert await sent(upstream, deep, {"a b": tricky}) == f"/items?filter%5Ba%20b%5D={encoded}"
    path = probe_spec(style("label", True), {"path": "/items/{args.color}"})
    assert await sent(upstream, path, [tricky, "x,y"]) == f"/items/.{encoded}.x%2Cy"


async def test_absent_and_empty_values_are_left_out_of_the_query(upstream: FakeUpstream) -> None:
    spec = probe_spec(
        style("form", False),
        {"path": "/items", "query": {"color": "{args.color}", "fixed": "1"}},
    )
    for value in (None, [], {}, [None]):
        assert await sent(upstream, spec, value) == "/items?fixed=1", value
    assert await sent(upstream, spec, "") == "/items?color=&fixed=1"


async def test_nested_deep_objects_and_lists_in_them(upstream: FakeUpstream) -> None:
    spec = probe_spec(
        style("deepObject", None), {"path": "/items", "query": {"created": "{args.color}"}}
    )
    value = {"gte": 1, "range": {"lt": 5}, "in": ["a", "b"], "skip": None}
    assert await sent(upstream, spec, value) == (
        "/items?created%5Bgte%5D=1&created%5Brange%5D%5Blt%5D=5&created%5Bin%5D=a&created%5Bin%5D=b"
    )


async def test_a_deep_object_input_through_graphql(upstream: FakeUpstream) -> None:
    """An input object argument in deepObject style, as a Stripe-like API wants it."""
    text = """
connector: {name: shop}
config: {base_url: {required: true}}
source: {base_url: "{config.base_url}"}
types:
  Range: {kind: input, fields: {gte: Int, lte: Int}}
operations:
  orders:
    args:
      created: {type: Range, style: deepObject}
      status: {type: "[String!]", style: pipeDelimited}
    request: {path: /orders, query: {created: "{args.created}", status: "{args.status}"}}
    response: {type: JSON}
"""
    runtime = Runtime()
    runtime.add(load_spec_text(text, "shop.yaml"), {"base_url": upstream.url})
    async with serving(runtime) as url:
        result = await execute(
            url, '{ shop { orders(created: {gte: 1, lte: 9}, status: ["new", "paid"]) } }'
        )
    assert result.errors is None, result.errors
    assert upstream.requests[-1].raw_path == (
        "/orders?created%5Bgte%5D=1&created%5Blte%5D=9&status=new%7Cpaid"
    )


@pytest.mark.parametrize(
    ("where", "request_spec"),
    [
        pytest.param("path", {"path": "/items/{args.color}"}, id="query-style-in-path"),
        pytest.param(
            "header", {"path": "/items", "headers": {"X": "{args.color}"}}, id="in-header"
        ),
    ],
)
def test_a_style_that_does_not_suit_where_the_argument_is_used_is_a_spec_error(
    where: str, request_spec: dict[str, Any]
) -> None:
    text = yaml.safe_dump(
        {
            "connector": {"name": "styles"},
            "source": {"base_url": "https://api.example.com"},
            "operations": {
                "probe": {
                    "args": {"color": {"type": "JSON", "style": "deepObject"}},
                    "request": request_spec,
                    "response": {"type": "JSON"},
                }
            },
        }
    )
    with pytest.raises(SpecErrors) as caught:
        load_spec_text(text, "styles.yaml")
    message = str(caught.value)
    assert "operations.probe.args.color.style" in message
    assert f"style 'deepObject' is not for {where} parameters" in message


def test_the_importer_keeps_each_parameters_style_and_explode() -> None:
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "Styles", "version": "1"},
        "servers": [{"url": "https://api.example.com"}],
        "paths": {
            "/items/{color}": {
                "get": {
                    "operationId": "items",
                    "parameters": [
                        {
                            "name": "color",
                            "in": "path",
                            "required": True,
                            "style": "matrix",
                            "explode": True,
                            "schema": {"type": "array", "items": {"type": "string"}},
                        },
                        {
                            "name": "created",
                            "in": "query",
                            "style": "deepObject",
                            "explode": True,
                            "schema": {"type": "object", "properties": {"gte": INTEGER}},
                        },
                        {
                            "name": "tags",
                            "in": "query",
                            "explode": False,
                            "schema": {"type": "array", "items": {"type": "string"}},
                        },
                        {
                            "name": "ids",
                            "in": "query",
                            "style": "form",
                            "schema": {"type": "array", "items": {"type": "string"}},
                        },
                    ],
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
    }
    args = import_openapi(doc).spec["operations"]["items"]["args"]
    assert args["color"] == {"type": "[String!]!", "style": "matrix", "explode": True}
    assert args["created"] == {"type": "CreatedInput", "style": "deepObject", "explode": True}
    assert args["tags"] == {"type": "[String!]", "explode": False}
    assert isinstance(args["ids"], str)  # form, exploded: OpenAPI's default, nothing to say


@pytest.mark.parametrize(
    ("collection_format", "expected"),
    [
        pytest.param(None, {"explode": False}, id="csv-by-default"),
        pytest.param("multi", {}, id="multi-is-openapis-default"),
        pytest.param("ssv", {"style": "spaceDelimited"}, id="ssv"),
        pytest.param("pipes", {"style": "pipeDelimited"}, id="pipes"),
    ],
)
def test_swagger2_collection_formats_become_styles(
    collection_format: str | None, expected: dict[str, Any]
) -> None:
    param: dict[str, Any] = {"name": "tags", "in": "query", "type": "array"}
    param["items"] = {"type": "string"}
    if collection_format:
        param["collectionFormat"] = collection_format
    doc = {
        "swagger": "2.0",
        "info": {"title": "Old", "version": "1"},
        "host": "api.example.com",
        "schemes": ["https"],
        "paths": {
            "/items": {
                "get": {
                    "operationId": "items",
                    "parameters": [param],
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
    }
    arg = import_openapi(doc).spec["operations"]["items"]["args"]["tags"]
    written = arg if isinstance(arg, dict) else {}
    assert {k: v for k, v in written.items() if k in ("style", "explode")} == expected


async def test_an_empty_path_value_is_refused_not_sent(bookstore: FakeUpstream) -> None:
    """`/books/` would reach the list, or another resource: an empty segment is the caller's
    mistake, refused before anything is sent."""
    runtime = bookstore_runtime(bookstore)
    async with serving(runtime) as url:
        result = await execute(url, '{ bookstore { book(id: "") { id } } }')
    assert result.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "{args.id} is empty" in result.errors[0]["message"]
    assert bookstore.requests == []
