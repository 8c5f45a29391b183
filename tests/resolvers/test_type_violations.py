"""Upstream data that violates the declared type is the upstream's fault: BAD_RESPONSE with the
field's path, logged as one line without a traceback. Strict connectors (the default) follow
GraphQL's null propagation; lenient ones (`source.strict: false`) keep every record."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import yaml
from aiohttp import web

from connectql.runtime import Runtime
from connectql.spec.loader import load_spec_text
from connectql.testing import FakeUpstream
from tests.support import execute, serving

RECORDS: list[dict[str, Any]] = [
    {"id": 1, "name": "one", "price": 10},
    {"id": 2, "name": "two", "price": 20},
    {"id": "three", "name": "three", "price": 30},  # a string where Int! is declared
    {"id": 4, "name": "four", "price": 40},
    {"id": 5, "name": "five", "price": 50},
]
QUERY = "{ vendor { items { id name } } }"


@pytest.fixture
def records() -> list[dict[str, Any]]:
    """What the upstream answers; a test may change a record first."""
    return [dict(r) for r in RECORDS]


@pytest.fixture
async def upstream(records: list[dict[str, Any]]) -> AsyncIterator[FakeUpstream]:
    async def items(request: web.Request) -> web.Response:
        return web.json_response(records)

    up = FakeUpstream()
    up.app.router.add_get("/items", items)
    async with up:
        yield up


def vendor_spec(items_type: str, *, strict: bool = True, **fields: str) -> str:
    source: dict[str, Any] = {"base_url": "{config.base_url}"}
    if not strict:
        source["strict"] = False
    return yaml.safe_dump(
        {
            "connector": {"name": "vendor"},
            "config": {"base_url": {"required": True}},
            "source": source,
            "types": {
                "Item": {"fields": {"id": "Int!", "name": "String!", "price": "Int", **fields}}
            },
            "operations": {
                "items": {"request": {"path": "/items"}, "response": {"type": items_type}}
            },
        }
    )


async def run(up: FakeUpstream, spec_text: str, query: str = QUERY) -> Any:
    runtime = Runtime()
    runtime.add(load_spec_text(spec_text, "vendor.yaml"), {"base_url": up.url})
    async with serving(runtime) as url:
        return await execute(url, query)


def only_error(result: Any) -> dict[str, Any]:
    assert result.errors is not None
    assert len(result.errors) == 1, result.errors
    error: dict[str, Any] = result.errors[0]
    return error


def assert_bad_response(error: dict[str, Any], path: list[Any], field: str) -> None:
    assert error["path"] == path
    assert error["extensions"]["code"] == "BAD_RESPONSE"
    assert error["extensions"]["field"] == field
    assert error["extensions"]["connector"] == "vendor"
    assert ".".join(map(str, path)) in error["message"]


async def test_strict_a_bad_record_in_a_nullable_item_list_is_null(upstream: FakeUpstream) -> None:
    result = await run(upstream, vendor_spec("[Item]!"))
    items = result.data["vendor"]["items"]
    assert len(items) == 5
    assert items[2] is None  # Int! cannot be null: the record goes, its siblings stay
    assert [i["name"] for i in items if i] == ["one", "two", "four", "five"]
    assert_bad_response(only_error(result), ["vendor", "items", 2, "id"], "VendorItem.id")


async def test_strict_a_bad_record_in_a_non_null_item_list_nulls_the_list(
    upstream: FakeUpstream,
) -> None:
    result = await run(upstream, vendor_spec("[Item!]"))
    assert result.data == {"vendor": {"items": None}}
    assert_bad_response(only_error(result), ["vendor", "items", 2, "id"], "VendorItem.id")


async def test_lenient_keeps_every_record_and_nulls_the_bad_field(upstream: FakeUpstream) -> None:
    result = await run(upstream, vendor_spec("[Item!]!", strict=False))
    items = result.data["vendor"]["items"]
    assert [i["name"] for i in items] == ["one", "two", "three", "four", "five"]
    assert [i["id"] for i in items] == [1, 2, None, 4, 5]
    assert_bad_response(only_error(result), ["vendor", "items", 2, "id"], "VendorItem.id")


async def test_lenient_still_reports_a_missing_value_declared_non_null(
    upstream: FakeUpstream, records: list[dict[str, Any]]
) -> None:
    records[2] = {"id": 3, "price": 30}  # name: String! is missing
    result = await run(upstream, vendor_spec("[Item!]!", strict=False))
    items = result.data["vendor"]["items"]
    assert [i["name"] for i in items] == ["one", "two", None, "four", "five"]
    error = only_error(result)
    assert_bad_response(error, ["vendor", "items", 2, "name"], "VendorItem.name")
    assert "(String!): it is missing or null" in error["message"]


async def test_lenient_schema_makes_output_types_nullable(upstream: FakeUpstream) -> None:
    runtime = Runtime()
    runtime.add(load_spec_text(vendor_spec("[Item!]!", strict=False)), {"base_url": upstream.url})
    query = '{ __type(name: "VendorItem") { fields { name type { kind name } } } }'
    async with serving(runtime) as url:
        result = await execute(url, query)
    kinds = {f["name"]: f["type"]["kind"] for f in result.data["__type"]["fields"]}
    assert kinds == {"id": "SCALAR", "name": "SCALAR", "price": "SCALAR"}


@pytest.mark.parametrize(
    ("record", "field", "says"),
    [
        pytest.param({"id": 3, "price": 30}, "name", "missing or null", id="missing-non-null"),
        pytest.param({"id": 3, "name": None, "price": 30}, "name", "missing or null", id="null"),
        pytest.param(
            {"id": 3, "name": "x", "price": "cheap"},
            "price",
            "Int cannot represent non-integer value",
            id="string-for-nullable-int",
        ),
        pytest.param(
            {"id": 2**31, "name": "x"},
            "id",
            "Int cannot represent non 32-bit signed integer value",
            id="int-beyond-32-bits",
        ),
        pytest.param(
            {"id": 3, "name": "x", "state": "weird"},
            "state",
            "Enum 'VendorState' cannot represent value",
            id="unknown-enum-value",
        ),
        pytest.param(
            {"id": 3, "name": "x", "tags": "a,b"}, "tags", "Expected Iterable", id="not-a-list"
        ),
    ],
)
async def test_each_kind_of_violation_is_a_bad_response_with_its_path(
    upstream: FakeUpstream,
    records: list[dict[str, Any]],
    record: dict[str, Any],
    field: str,
    says: str,
) -> None:
    records[2] = record
    text = yaml.safe_load(vendor_spec("[Item]!", state="State", tags="[String]"))
    text["types"]["State"] = {"kind": "enum", "values": ["open", "closed"]}
    query = "{ vendor { items { id name price state tags } } }"
    result = await run(upstream, yaml.safe_dump(text), query)
    error = only_error(result)
    assert_bad_response(error, ["vendor", "items", 2, field], f"VendorItem.{field}")
    assert says in error["message"]
    assert repr(record.get(field)) not in error["message"]  # the upstream's value stays upstream
    assert len(result.data["vendor"]["items"]) == 5


async def test_logged_once_as_one_line_without_a_traceback(
    upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="connectql"):
        await run(upstream, vendor_spec("[Item]!"))
    lines = [r for r in caplog.records if "BAD_RESPONSE" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].levelno == logging.INFO
    assert lines[0].exc_info is None
    assert "vendor.items.2.id" in lines[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_control_plane_fields_are_not_blamed_on_an_upstream(upstream: FakeUpstream) -> None:
    """Only connector types are marked: a bug elsewhere stays INTERNAL (nothing is
    converted for a type without the connector mark)."""
    from graphql import GraphQLObjectType

    from connectql.graph.types import PageInfo

    assert isinstance(PageInfo, GraphQLObjectType)
    assert not (PageInfo.extensions or {}).get("connector")
