"""Request templates compiled once per operation: what is fixed is decided once, what varies
is filled in on every call, and the precedence between them is the one a fresh render had."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from connectql.connectors.callers import Caller
from connectql.connectors.connector import POOL_PER_HOST, Connector
from connectql.connectors.requester import ACCEPT_DEFAULT
from connectql.spec.models import ConnectorSpec
from connectql.testing import FakeUpstream


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    up = FakeUpstream()
    up.app.router.add_route("*", "/{tail:.*}", echo)
    async with up:
        yield up


def spec(operations: dict[str, Any], **source: Any) -> ConnectorSpec:
    return ConnectorSpec.model_validate(
        {
            "connector": {"name": "echo"},
            "config": {"base_url": {"required": True}},
            "source": {"base_url": "{config.base_url}", **source},
            "operations": operations,
        }
    )


async def test_a_fixed_operation_header_wins_over_a_source_header_read_from_the_caller(
    upstream: FakeUpstream,
) -> None:
    connector = Connector(
        spec(
            {
                "fixed": {
                    "request": {"path": "/fixed", "headers": {"x-team": "platform"}},
                    "response": {"type": "JSON"},
                },
                "forwarded": {"request": {"path": "/forwarded"}, "response": {"type": "JSON"}},
            },
            forward_headers=["x-team"],
            headers={"X-Team": "{request.headers.x-team}"},
        ),
        {"base_url": upstream.url},
    )
    caller = Caller({"x-team": "billing"})
    try:
        for _ in range(2):  # the first call compiles, the second renders the compiled form
            await connector.execute("fixed", {}, caller=caller)
            await connector.execute("forwarded", {}, caller=caller)
    finally:
        await connector.stop()
    sent = [(r.path, r.headers.getall("X-Team")) for r in upstream.requests]
    assert sent == [
        ("/fixed", ["platform"]),
        ("/forwarded", ["billing"]),
        ("/fixed", ["platform"]),
        ("/forwarded", ["billing"]),
    ]


async def test_an_accept_header_from_an_argument_replaces_the_chosen_one_only_when_given(
    upstream: FakeUpstream,
) -> None:
    connector = Connector(
        spec(
            {
                "thing": {
                    "args": {"accept": "String"},
                    "request": {"path": "/thing", "headers": {"Accept": "{args.accept}"}},
                    "response": {"type": "JSON"},
                }
            }
        ),
        {"base_url": upstream.url},
    )
    try:
        await connector.execute("thing", {"accept": "application/vnd.thing+json"})
        await connector.execute("thing", {})
    finally:
        await connector.stop()
    assert [r.headers.getall("Accept") for r in upstream.requests] == [
        ["application/vnd.thing+json"],
        [ACCEPT_DEFAULT],
    ]


async def test_a_template_without_placeholders_is_sent_the_same_on_every_call(
    upstream: FakeUpstream,
) -> None:
    connector = Connector(
        spec(
            {
                "make": {
                    "kind": "mutation",
                    "request": {
                        "method": "POST",
                        "path": "/things",
                        "query": {"v": 2, "mode": "{{raw}}"},
                        "body": {"kind": "fixed", "tags": ["a", None], "drop": None},
                    },
                    "response": {"type": "JSON"},
                },
                "empty": {
                    "kind": "mutation",
                    "request": {"method": "POST", "path": "/empty", "body": {}},
                    "response": {"type": "JSON"},
                },
            }
        ),
        {"base_url": upstream.url},
    )
    try:
        for _ in range(2):
            await connector.execute("make", {})
            await connector.execute("empty", {})
    finally:
        await connector.stop()
    made = [r for r in upstream.requests if r.path == "/things"]
    assert [(dict(r.query), r.json(), r.headers["Content-Type"]) for r in made] == [
        ({"v": "2", "mode": "{raw}"}, {"kind": "fixed", "tags": ["a", None]}, "application/json")
    ] * 2
    assert [r.body for r in upstream.requests if r.path == "/empty"] == [b"{}", b"{}"]


async def test_the_pool_holds_as_many_connections_as_a_fan_out_batch_runs_at_once(
    upstream: FakeUpstream,
) -> None:
    item = {"args": {"id": "ID!"}, "request": {"path": "/items/{args.id}"}}
    wide = {
        **item,
        "response": {"type": "JSON"},
        "batch": {"key": "id", "mode": "fan_out", "max_concurrency": POOL_PER_HOST + 36},
    }
    plain_spec = spec({"item": {**item, "response": {"type": "JSON"}}})
    plain = Connector(plain_spec, {"base_url": upstream.url})
    fanning = Connector(spec({"item": wide}), {"base_url": upstream.url})
    try:
        assert fanning.session.connector is not None
        assert fanning.session.connector.limit_per_host == POOL_PER_HOST + 36
        assert plain.session.connector is not None
        assert plain.session.connector.limit_per_host == POOL_PER_HOST
        found = await fanning.fetch_batch("item", [str(i) for i in range(120)])
    finally:
        await fanning.stop()
        await plain.stop()
    assert found == [{"ok": True}] * 120
