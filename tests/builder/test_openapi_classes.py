"""The OpenAPI importer's defect classes, each shown on a minimal description.

`test_each_class_imports` holds one case per class (what the import gives); the tests after
it serve the imported spec against a fake upstream and query it through our GraphQL server
where the class is about run-time behaviour.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from click.testing import CliRunner
from graphql import get_introspection_query, graphql_sync, print_schema

from connectql.builder.openapi import ImportResult, import_openapi
from connectql.cli.main import main
from connectql.errors import SpecErrors
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec_text
from connectql.testing import FakeUpstream
from tests.support import execute, serving

Json = dict[str, Any]


def document(paths: Json, schemas: Json | None = None, **top: Any) -> Json:
    return {
        "openapi": top.pop("openapi", "3.0.3"),
        "info": {"title": "Classes", "version": "1"},
        "servers": [{"url": "https://api.example.com"}],
        "paths": paths,
        "components": {"schemas": schemas or {}, **top.pop("components", {})},
        **top,
    }


def ok(schema: Json, media: str = "application/json") -> Json:
    return {"200": {"description": "ok", "content": {media: {"schema": schema}}}}


def get(op_id: str, params: list[Json] | None = None, schema: Json | None = None) -> Json:
    return {
        "operationId": op_id,
        "parameters": params or [],
        "responses": ok(schema or {"type": "object", "properties": {"id": {"type": "string"}}}),
    }


def query(name: str, schema: Json, **extra: Any) -> Json:
    return {"name": name, "in": "query", "schema": schema, **extra}


def path(name: str) -> Json:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def page_of(items: Json, **fields: Json) -> Json:
    return {"type": "object", "properties": {"data": {"type": "array", "items": items}, **fields}}


ITEM = {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}
NULLABLE_STRING = {"type": "string", "nullable": True}


def imported(doc: Json) -> ImportResult:
    result = import_openapi(doc)
    load_spec_text(result.yaml(), "classes.yaml")  # the output always loads
    return result


def skipped(result: ImportResult) -> dict[str, str]:
    return {s.where: s.reason for s in result.report.skipped}


# --- 1. JSON pointers ------------------------------------------------------------------


def pointers() -> Json:
    key = {
        "allOf": [
            {"type": "object", "properties": {"id": {"type": "integer", "format": "int32"}}},
            {"type": "object", "properties": {"name": {"type": "string"}}},
        ]
    }
    return document(
        {
            "/x": {"get": get("x", [query("q", {"type": "string"})])},
            "/y": {"get": get("y", [{"$ref": "#/paths/~1x/get/parameters/0"}])},
            "/keys/{key_id}": {
                "get": get(
                    "getKey",
                    [path("key_id")],
                    {
                        "type": "object",
                        "properties": {
                            "id": {"$ref": "#/components/schemas/Key/allOf/0/properties/id"},
                            "tilde": {"$ref": "#/components/schemas/a~0b~1c"},
                        },
                    },
                )
            },
            "/keys/{key_id}/copy": {
                "get": get("copyKey", [{"$ref": "#/paths/~1keys~1%7Bkey_id%7D/get/parameters/0"}])
            },
        },
        {"Key": key, "a~b/c": {"type": "boolean"}},
    )


def check_pointers(result: ImportResult) -> None:
    ops = result.spec["operations"]
    assert sorted(ops) == ["copyKey", "getKey", "x", "y"]
    assert not result.report.skipped
    assert ops["y"]["args"] == {"q": "String"}  # through `parameters/0`
    assert ops["copyKey"]["args"] == {"keyId": "String!"}  # a percent-encoded `{key_id}`
    assert result.spec["types"]["GetKeyResult"]["fields"] == {"id": "Int", "tilde": "Boolean"}


# --- 3. enums ---------------------------------------------------------------------------


def enums() -> Json:
    def order(*values: str) -> Json:
        return query("order", {"type": "string", "enum": list(values), "default": values[0]})

    return document(
        {
            "/users": {"get": get("listUsers", [order("asc", "desc")])},
            "/repos": {"get": get("listRepos", [order("newest", "oldest")])},
            "/teams": {"get": get("listTeams", [order("desc", "asc")])},
            "/bad": {
                "get": get(
                    "listBad",
                    [query("dir", {"type": "string", "enum": ["a", "b"], "default": "c"})],
                )
            },
        }
    )


def check_enums(result: ImportResult) -> None:
    ops, types = result.spec["operations"], result.spec["types"]
    users, repos, teams = (ops[o]["args"]["order"] for o in ("listUsers", "listRepos", "listTeams"))
    assert repos["type"] == "Order"  # the first (by path) has the plain name
    assert users["type"] == teams["type"] == "OrderDescAsc"  # the same values: one type,
    assert types["Order"]["values"] == ["newest", "oldest"]  # named apart from other values
    assert types["OrderDescAsc"]["values"] == ["desc", "asc"]
    assert (users["default"], repos["default"], teams["default"]) == ("asc", "newest", "desc")
    assert "default" not in ops["listBad"]["args"]["dir"]  # `c` is no value of it
    assert "'c' is not a value of enum Dir" in skipped(result)["GET /bad parameter dir"]


# --- 5. pagination from the response's shape ---------------------------------------------


def paginations() -> Json:
    size = query("limit", {"type": "integer", "maximum": 100})
    return document(
        {
            "/events": {
                "get": get(
                    "events",
                    [query("page", {"type": "string"}), size],
                    page_of(ITEM, next_page=NULLABLE_STRING, has_more={"type": "boolean"}),
                )
            },
            "/v1/customers": {
                "get": get(
                    "customers",
                    [size, query("starting_after", {"type": "string"})],
                    page_of(ITEM, has_more={"type": "boolean"}, url={"type": "string"}),
                )
            },
            "/charges": {
                "get": get(
                    "charges",
                    [size, query("after", {"type": "string"})],
                    page_of(ITEM, has_more={"type": "boolean"}),
                )
            },
            "/numbered": {
                "get": get(
                    "numbered",
                    [query("page", {"type": "integer"}), size],
                    page_of(ITEM, total_pages={"type": "integer"}),
                )
            },
            "/named-only": {  # a cursor parameter, but nothing in the response to feed it
                "get": get("namedOnly", [query("cursor", {"type": "string"}), size], page_of(ITEM))
            },
        }
    )


def check_paginations(result: ImportResult) -> None:
    ops, why = result.spec["operations"], result.report.pagination_why
    assert ops["events"]["pagination"] == {
        "strategy": "cursor",
        "cursor_param": "page",
        "size_param": "limit",
        "page_size": 100,
        "has_more_path": "has_more",
        "cursor_path": "next_page",
    }
    assert "`page` takes the cursor the response gives in `next_page`" in why["events"]
    for op, param in (("customers", "starting_after"), ("charges", "after")):
        assert ops[op]["pagination"] == {
            "strategy": "cursor",
            "cursor_param": param,
            "cursor_from_last": "id",
            "size_param": "limit",
            "page_size": 100,
            "has_more_path": "has_more",
        }
        assert f"`{param}` takes the last record's `id` (Stripe style)" in why[op]
    assert ops["numbered"]["pagination"]["strategy"] == "page"
    assert ops["numbered"]["pagination"]["total_pages_path"] == "total_pages"
    assert "pagination" not in ops["namedOnly"]
    assert "customers: cursor (`starting_after` takes the last" in result.report.text()


# --- 6. discriminators that their members pin ------------------------------------------


def shapes(openapi: str = "3.1.0") -> Json:
    def shape(kind: Json, prop: str) -> Json:
        return {
            "type": "object",
            "required": ["kind", prop],
            "properties": {"kind": kind, prop: {"type": "integer"}},
        }

    return document(
        {
            "/shapes": {
                "get": get(
                    "shapes",
                    schema={"type": "array", "items": {"$ref": "#/components/schemas/Shape"}},
                )
            }
        },
        {
            "Shape": {
                "oneOf": [
                    {"$ref": "#/components/schemas/CircleShape"},
                    {"$ref": "#/components/schemas/SquareShape"},
                    {"$ref": "#/components/schemas/Dot"},
                ],
                "discriminator": {"propertyName": "kind"},  # no mapping
            },
            "CircleShape": shape({"type": "string", "enum": ["circle"]}, "radius"),
            "SquareShape": shape({"const": "square"}, "side"),
            "Dot": shape({"type": "string"}, "size"),  # not pinned: named by its schema
        },
        openapi=openapi,
    )


def check_shapes(result: ImportResult) -> None:
    assert result.spec["types"]["Shape"]["discriminator"] == {
        "field": "kind",
        "mapping": {"Dot": "Dot", "circle": "CircleShape", "square": "SquareShape"},
    }
    assert result.spec["types"]["SquareShape"]["fields"]["kind"] == "String!"  # from `const`


# --- 8. content negotiation ------------------------------------------------------------


def negotiations() -> Json:
    return {
        "swagger": "2.0",
        "info": {"title": "Old", "version": "1"},
        "host": "old.example.com",
        "produces": ["application/xml", "application/json"],
        "definitions": {"Item": ITEM},
        "paths": {
            "/items/{id}": {
                "get": {
                    "operationId": "item",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "type": "string"},
                        {"name": "Accept", "in": "header", "type": "string"},
                    ],
                    "responses": {
                        "200": {"description": "ok", "schema": {"$ref": "#/definitions/Item"}}
                    },
                }
            },
            "/vendor": {
                "get": {
                    "operationId": "vendor",
                    "produces": ["text/html", "application/vnd.api+json"],
                    "responses": {
                        "200": {"description": "ok", "schema": {"$ref": "#/definitions/Item"}}
                    },
                }
            },
        },
    }


def check_negotiations(result: ImportResult) -> None:
    item, vendor = result.spec["operations"]["item"], result.spec["operations"]["vendor"]
    assert item["response"] == {"type": "Item", "format": "json"}  # not JSON null, from XML
    assert item["args"]["accept"] == "String"  # a declared Accept stays an argument
    assert item["request"]["headers"] == {"Accept": "{args.accept}"}
    assert vendor["response"] == {"type": "Item", "format": "json"}
    assert vendor["request"]["headers"] == {"Accept": "application/vnd.api+json"}


# --- 9. one name in the path and the query ------------------------------------------------


def proxy() -> Json:
    return document(
        {"/proxy/{name}": {"get": get("proxy", [path("name"), query("name", {"type": "string"})])}}
    )


def check_proxy(result: ImportResult) -> None:
    op = result.spec["operations"]["proxy"]
    assert op["args"] == {"name": "String!", "nameQuery": "String"}
    assert op["request"]["path"] == "/proxy/{args.name}"
    assert op["request"]["query"] == {"name": "{args.nameQuery}"}


# --- 10. per-operation security --------------------------------------------------------


def secured() -> Json:
    schemes = {
        "key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
        "admin": {"type": "http", "scheme": "bearer"},
        "sso": {"type": "openIdConnect", "openIdConnectUrl": "https://id.example.com"},
    }
    admin = {**get("purge"), "security": [{"admin": []}]}
    public = {**get("health"), "security": []}
    sso = {**get("profile"), "security": [{"sso": []}]}
    return document(
        {
            "/items": {"get": get("items")},
            "/purge": {"get": admin},
            "/health": {"get": public},
            "/profile": {"get": sso},
        },
        security=[{"key": []}],
        components={"securitySchemes": schemes},
    )


def check_secured(result: ImportResult) -> None:
    source, ops = result.spec["source"], result.spec["operations"]
    assert source["auth"] == {
        "type": "api_key",
        "key": "{config.api_key}",
        "name": "X-Api-Key",
        "in": "header",
    }
    assert source["auth_schemes"] == {"admin": {"type": "bearer", "token": "{config.token}"}}
    assert ops["purge"]["auth"] == "admin"
    assert "auth" not in ops["items"]
    assert "auth" not in ops["health"]  # `security: []`: source.auth does no harm
    assert "needs security sso" in ops["profile"]["deprecated"]  # marked, and reported:
    assert "needs security sso" in skipped(result)["GET /profile"]
    assert "'openidconnect' is not supported" in skipped(result)["security.sso"]


# --- 13. 64-bit integers ---------------------------------------------------------------


def integers() -> Json:
    props = {
        "id": {"type": "integer"},
        "views": {"type": "integer", "format": "int64"},
        "size_in_bytes": {"type": "integer"},
        "stars": {"type": "integer"},
        "small_size": {"type": "integer", "format": "int32"},
    }
    return document(
        {"/stats": {"get": get("stats", schema={"type": "object", "properties": props})}}
    )


def check_integers(result: ImportResult) -> None:
    assert result.spec["types"]["StatsResult"]["fields"] == {
        "id": "Long",
        "views": "Long",
        "sizeInBytes": {"type": "Long", "from": "size_in_bytes"},
        "stars": "Int",
        "smallSize": {"type": "Int", "from": "small_size"},
    }


# --- 14. nothing dropped silently ------------------------------------------------------


def odd_keys() -> Json:
    props = {
        "a.b": {"type": "string"},
        "x y": {"type": "integer", "format": "int32"},
        "list[0]": {"type": "boolean"},
        "plain": {"type": "string"},
    }
    item = {
        "get": get("thing", schema={"type": "object", "properties": props}),
        "options": {"responses": {"200": {"description": "ok"}}},
        "trace": {"responses": {"200": {"description": "ok"}}},
    }
    return document({"/thing": item})


def check_odd_keys(result: ImportResult) -> None:
    assert result.spec["types"]["ThingResult"]["fields"] == {
        "aB": {"type": "String", "from": '["a.b"]'},
        "xY": {"type": "Int", "from": '["x y"]'},
        "list0": {"type": "Boolean", "from": '["list[0]"]'},
        "plain": "String",
    }
    assert "OPTIONS describes" in skipped(result)["OPTIONS /thing"]
    assert "TRACE echoes" in skipped(result)["TRACE /thing"]


CLASSES = [
    pytest.param(pointers(), check_pointers, id="1-json-pointers-through-arrays-and-escapes"),
    pytest.param(enums(), check_enums, id="3-enums-are-their-values"),
    pytest.param(paginations(), check_paginations, id="5-pagination-from-the-response"),
    pytest.param(shapes(), check_shapes, id="6-discriminator-values-pinned-by-members"),
    pytest.param(shapes("3.0.3"), check_shapes, id="6-discriminator-values-in-3.0"),
    pytest.param(negotiations(), check_negotiations, id="8-content-negotiation"),
    pytest.param(proxy(), check_proxy, id="9-one-name-in-path-and-query"),
    pytest.param(secured(), check_secured, id="10-per-operation-security"),
    pytest.param(integers(), check_integers, id="13-int64-is-long"),
    pytest.param(odd_keys(), check_odd_keys, id="14-nothing-dropped-silently"),
]


@pytest.mark.parametrize(("doc", "check"), CLASSES)
def test_each_class_imports(doc: Json, check: Callable[[ImportResult], None]) -> None:
    check(imported(doc))


# --- run time ----------------------------------------------------------------------------


def answer(body: Any) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(body)

    return handler


def runtime_for(result: ImportResult, url: str, **config: str) -> Runtime:
    runtime = Runtime()
    runtime.add(load_spec_text(result.yaml(), "classes.yaml"), {"base_url": url, **config})
    return runtime


def test_an_enum_default_prints_and_introspects() -> None:
    runtime = runtime_for(imported(enums()), "https://api.example.com")
    schema = runtime.schema.graphql_schema
    sdl = print_schema(schema)
    assert "listRepos(order: ClassesOrder = NEWEST)" in sdl
    assert "listUsers(order: ClassesOrderDescAsc = ASC)" in sdl
    assert graphql_sync(schema, get_introspection_query()).errors is None


def test_validate_locates_a_default_its_enum_cannot_hold(tmp_path: Any) -> None:
    spec = tmp_path / "shop.yaml"
    spec.write_text(
        "connector: {name: shop}\n"
        "source: {base_url: 'https://shop.example.com'}\n"
        "types:\n"
        "  Order: {kind: enum, values: [asc, desc]}\n"
        "operations:\n"
        "  items:\n"
        "    args:\n"
        "      order: {type: Order, default: newest}\n"
        "    request: {path: /items}\n"
        "    response: {type: JSON}\n"
    )
    out = CliRunner().invoke(main, ["validate", str(spec)])
    assert out.exit_code != 0
    assert "shop.yaml:8:" in out.output
    assert "operations.items.args.order.default" in out.output
    assert "default 'newest' is not a value of enum Order ('asc', 'desc')" in out.output


def test_an_operation_names_a_declared_auth_scheme() -> None:
    text = (
        "connector: {name: shop}\n"
        "config: {key: {secret: true}, admin: {secret: true}}\n"
        "source:\n"
        "  base_url: 'https://shop.example.com'\n"
        "  auth: {type: api_key, key: '{config.key}'}\n"
        "  auth_schemes: {admin: {type: bearer, token: '{config.admin}'}}\n"
        "operations:\n"
        "  purge: {auth: admin, request: {path: /purge}, response: {type: JSON}}\n"
        "  wipe: {auth: root, request: {path: /wipe}, response: {type: JSON}}\n"
    )
    with pytest.raises(SpecErrors) as caught:
        load_spec_text(text, "shop.yaml")
    assert [str(e) for e in caught.value.errors] == [
        "shop.yaml:9:10 operations.wipe.auth: auth names no scheme of source.auth_schemes (admin)"
    ]


async def test_a_union_resolves_on_the_values_its_members_pin() -> None:
    app = web.Application()
    shapes_json = [{"kind": "circle", "radius": 2}, {"kind": "square", "side": 3}]
    app.router.add_get("/shapes", answer([*shapes_json, {"kind": "Dot", "size": 1}]))
    async with FakeUpstream(app) as fake, serving(runtime_for(imported(shapes()), fake.url)) as url:
        result = await execute(
            url,
            "{ classes { shapes { __typename ... on ClassesCircleShape { radius } "
            "... on ClassesSquareShape { side } ... on ClassesDot { size } } } }",
        )
    assert result.errors is None, result.errors
    assert result.data["classes"]["shapes"] == [
        {"__typename": "ClassesCircleShape", "radius": 2},
        {"__typename": "ClassesSquareShape", "side": 3},
        {"__typename": "ClassesDot", "size": 1},
    ]


async def test_the_path_and_the_query_name_each_go_in_their_place() -> None:
    app = web.Application()
    app.router.add_get("/proxy/{name}", answer({"id": "1"}))
    async with FakeUpstream(app) as fake, serving(runtime_for(imported(proxy()), fake.url)) as url:
        both = await execute(url, '{ classes { proxy(name: "a b", nameQuery: "q") { id } } }')
        path_only = await execute(url, '{ classes { proxy(name: "p") { id } } }')
    assert both.errors is None
    assert path_only.errors is None
    assert [r.raw_path for r in fake.requests] == ["/proxy/a%20b?name=q", "/proxy/p"]


async def test_each_operation_authenticates_the_way_its_security_says() -> None:
    async def guarded(request: web.Request) -> web.Response:
        wanted = {
            "/purge": ("Authorization", "Bearer admin-token-0123"),
            "/items": ("X-Api-Key", "the-key-0123"),
        }[request.path]
        if request.headers.get(wanted[0]) != wanted[1]:
            return web.json_response({"message": "no"}, status=401)
        return web.json_response({"id": request.path})

    app = web.Application()
    app.router.add_get("/items", guarded)
    app.router.add_get("/purge", guarded)
    result = imported(secured())
    async with FakeUpstream(app) as fake:
        runtime = runtime_for(result, fake.url, api_key="the-key-0123", token="admin-token-0123")
        async with serving(runtime) as url:
            answer = await execute(url, "{ classes { items { id } purge { id } } }")
    assert answer.errors is None, answer.errors
    assert answer.data == {"classes": {"items": {"id": "/items"}, "purge": {"id": "/purge"}}}
    purge = next(r for r in fake.requests if r.path == "/purge")
    assert "X-Api-Key" not in purge.headers  # one scheme per operation


async def test_stripe_style_pages_follow_the_last_records_id() -> None:
    customers = [{"id": f"cus_{i}"} for i in range(7)]

    async def listing(request: web.Request) -> web.Response:
        after = request.query.get("starting_after")
        start = next((i + 1 for i, c in enumerate(customers) if c["id"] == after), 0)
        chunk = customers[start : start + min(int(request.query["limit"]), 3)]
        more = start + len(chunk) < len(customers)
        return web.json_response({"object": "list", "data": chunk, "has_more": more})

    app = web.Application()
    app.router.add_get("/v1/customers", listing)
    async with (
        FakeUpstream(app) as fake,
        serving(runtime_for(imported(paginations()), fake.url)) as url,
    ):
        answer = await execute(url, "{ classes { customers(first: 10) { nodes { id } } } }")
    assert answer.errors is None, answer.errors
    assert [n["id"] for n in answer.data["classes"]["customers"]["nodes"]] == [
        c["id"] for c in customers
    ]
    assert [r.query.get("starting_after") for r in fake.requests] == [None, "cus_2", "cus_5"]


async def test_odd_keys_resolve_and_every_error_has_a_code() -> None:
    app = web.Application()
    body = {"a.b": "dotted", "x y": 2, "list[0]": True, "plain": "p"}
    app.router.add_get("/thing", answer(body))
    async with (
        FakeUpstream(app) as fake,
        serving(runtime_for(imported(odd_keys()), fake.url)) as url,
    ):
        result = await execute(url, "{ classes { thing { aB xY list0 plain } } }")
        invalid = await execute(url, "{ classes { thing { nope } } }")
        bad_variable = await execute(
            url, "query($n: Int!) { classes { thing { plain } } }", {"n": "x"}
        )
    assert result.errors is None, result.errors
    assert result.data == {
        "classes": {"thing": {"aB": "dotted", "xY": 2, "list0": True, "plain": "p"}}
    }
    assert invalid.errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    codes = {e["extensions"]["code"] for e in bad_variable.errors}
    assert codes <= {"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"}
