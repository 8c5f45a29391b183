"""`Long`, the 64-bit integer scalar: a JSON number while it is a safe integer (|n| <= 2^53 - 1),
a string of digits beyond; Int stays 32-bit and a value beyond it is BAD_RESPONSE."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from graphql import GraphQLError

from connectql.graph.scalars import GraphQLLong
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec_text
from connectql.testing import FakeUpstream
from tests.support import ADMIN_KEY, execute, serving

SPEC = """
connector: {name: big}
config: {base_url: {required: true}}
source: {base_url: "{config.base_url}"}
types:
  Thing: {fields: {id: Long!, size: Long, count: Int}}
operations:
  thing:
    args: {id: Long!, s: String}
    request: {path: "/things/{args.id}", query: {s: "{args.s}"}}
    response: {type: Thing}
"""
SAFE = 2**53 - 1


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    async def thing(request: web.Request) -> web.Response:
        raw = request.match_info["id"]
        sizes: dict[str, Any] = {
            "small": 42,
            "safe": SAFE,
            "unsafe": SAFE + 2,
            "negative": -(2**63),
            "digits": "12345678901234567",  # int64 as a string (protobuf's JSON mapping)
            "huge": 2**63,
        }
        size = sizes.get(request.query.get("s", ""))
        return web.json_response({"id": int(raw), "size": size, "count": 2**31})

    up = FakeUpstream()
    up.app.router.add_get("/things/{id}", thing)
    async with up:
        yield up


@pytest.fixture
async def server(upstream: FakeUpstream) -> AsyncIterator[str]:
    runtime = Runtime()
    runtime.add(load_spec_text(SPEC, "big.yaml"), {"base_url": upstream.url})
    async with serving(runtime) as url:
        yield url


async def raw_json(url: str, query: str, variables: dict[str, Any] | None = None) -> str:
    """The response body as text: whether a value is a number or a string shows here."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        ) as response,
    ):
        return await response.text()


@pytest.mark.parametrize(
    ("value", "written"),
    [
        pytest.param(42, 42, id="small"),
        pytest.param(SAFE, SAFE, id="largest-safe-integer"),
        pytest.param(-SAFE, -SAFE, id="smallest-safe-integer"),
        pytest.param(SAFE + 1, "9007199254740992", id="beyond-2^53-is-a-string"),
        pytest.param(-(2**63), "-9223372036854775808", id="int64-min"),
        pytest.param(2**63 - 1, "9223372036854775807", id="int64-max"),
        pytest.param("123", 123, id="digits-from-upstream"),
        pytest.param(12.0, 12, id="integral-float"),
    ],
)
def test_long_output(value: Any, written: Any) -> None:
    assert GraphQLLong.coerce_output_value(value) == written


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(2**63, id="beyond-64-bits"),
        pytest.param(-(2**63) - 1, id="below-64-bits"),
        pytest.param(1.5, id="fraction"),
        pytest.param(True, id="boolean"),
        pytest.param("12a", id="not-digits"),
        pytest.param({"n": 1}, id="object"),
    ],
)
def test_long_refuses_what_is_not_a_64_bit_integer(value: Any) -> None:
    with pytest.raises(GraphQLError, match="Long cannot represent"):
        GraphQLLong.coerce_output_value(value)
    with pytest.raises(GraphQLError, match="Long cannot represent"):
        GraphQLLong.coerce_input_value(value)


async def test_long_fields_are_numbers_while_safe_and_strings_beyond(
    server: str, upstream: FakeUpstream
) -> None:
    query = "query($id: Long!) { big { thing(id: $id) { id size } } }"
    text = await raw_json(server, query, {"id": "9007199254740993"})  # a variable as a string
    assert '"id":"9007199254740993"' in text
    assert upstream.requests[-1].path == "/things/9007199254740993"
    result = await execute(server, "{ big { thing(id: 9007199254740991) { id size } } }")
    assert result.data == {"big": {"thing": {"id": SAFE, "size": None}}}
    text = await raw_json(server, "{ big { thing(id: 7) { id } } }")
    assert '"id":7' in text


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        pytest.param("safe", SAFE, id="safe"),
        pytest.param("unsafe", str(SAFE + 2), id="unsafe"),
        pytest.param("negative", str(-(2**63)), id="negative"),
        pytest.param("digits", "12345678901234567", id="digits"),
    ],
)
async def test_upstream_longs_come_through(server: str, size: str, expected: Any) -> None:
    result = await execute(server, f'{{ big {{ thing(id: 1, s: "{size}") {{ size }} }} }}')
    assert result.errors is None, result.errors
    assert result.data == {"big": {"thing": {"size": expected}}}


async def test_an_upstream_long_beyond_64_bits_is_a_bad_response(server: str) -> None:
    result = await execute(server, '{ big { thing(id: 1, s: "huge") { id size } } }')
    assert result.data == {"big": {"thing": {"id": 1, "size": None}}}
    (error,) = result.errors
    assert error["path"] == ["big", "thing", "size"]
    assert error["extensions"]["code"] == "BAD_RESPONSE"
    assert error["extensions"]["field"] == "BigThing.size"


async def test_an_int_beyond_32_bits_is_a_bad_response_with_its_path(server: str) -> None:
    result = await execute(server, "{ big { thing(id: 1) { id count } } }")
    assert result.data == {"big": {"thing": {"id": 1, "count": None}}}
    (error,) = result.errors
    assert error["path"] == ["big", "thing", "count"]
    assert error["extensions"]["code"] == "BAD_RESPONSE"
    assert "32-bit" in error["message"]
    assert "BigThing.count (Int)" in error["message"]


async def test_a_long_literal_beyond_64_bits_is_refused_before_any_call(
    server: str, upstream: FakeUpstream
) -> None:
    result = await execute(server, "{ big { thing(id: 9223372036854775808) { id } } }")
    assert result.data is None
    assert "Long cannot represent a value beyond 64 bits" in result.errors[0]["message"]
    assert upstream.count() == 0


async def test_the_schema_declares_the_scalar(server: str) -> None:
    query = '{ __type(name: "Long") { kind description } }'
    result = await execute(server, query)
    assert result.data["__type"]["kind"] == "SCALAR"
    assert "64-bit" in result.data["__type"]["description"]
