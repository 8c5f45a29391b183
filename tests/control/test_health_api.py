"""Health and metrics over the GraphQL API: unknown names, refused starts, enum states."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from gql import Client, gql

from connectql.connectors.egress import EgressPolicy
from connectql.demo.upstream import create_bookstore_app
from connectql.testing import FakeUpstream
from tests.support import (
    DEMO_KEY,
    bookstore_spec_text,
    control_server,
    eventually,
    execute,
    execute_ws,
    registry_at,
    ws_transport,
)

CREATE = (
    "mutation($s: String!, $c: JSON, $start: Boolean!) { createConnector(spec: $s, config: $c, "
    "start: $start) { __typename } }"
)
START = 'mutation { startConnector(name: "bookstore") { __typename } }'
HEALTH = 'subscription { connectorHealth(name: "bookstore") { state reason } }'


@contextlib.asynccontextmanager
async def health_events(url: str) -> AsyncIterator[list[dict[str, Any]]]:
    """The bookstore's health events as they arrive, from its current health on."""
    events: list[dict[str, Any]] = []

    async def listen() -> None:
        async with Client(transport=ws_transport(url)) as session:
            async for event in session.subscribe(gql(HEALTH)):
                events.append(event["connectorHealth"])

    task = asyncio.create_task(listen())
    try:
        await eventually(lambda: events)
        yield events
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.mark.parametrize(
    "query",
    [
        pytest.param('subscription { connectorHealth(name: "nope") { state } }', id="health"),
        pytest.param('subscription { connectorMetrics(name: "nope") { calls } }', id="metrics"),
    ],
)
async def test_an_unknown_connector_is_answered_at_once(server: str, query: str) -> None:
    result = await asyncio.wait_for(execute_ws(server, query), 5)
    assert result.data is None
    [error] = result.errors
    assert (error["extensions"]["code"], error["message"]) == (
        "NOT_FOUND",
        "no connector named 'nope'",
    )


async def test_states_are_enums(server: str) -> None:
    status = await execute(server, "{ connectors { state breaker health { state } } }")
    assert status.data["connectors"] == [
        {"state": "RUNNING", "breaker": "CLOSED", "health": {"state": "UP"}}
    ]
    streamed = await execute_ws(
        server, 'subscription { connectorMetrics(name: "bookstore") { breaker } }'
    )
    assert streamed.data == {"connectorMetrics": {"breaker": "CLOSED"}}
    values = await execute(
        server,
        '{ c: __type(name: "ConnectorState") { enumValues { name } } '
        'b: __type(name: "BreakerState") { enumValues { name } } '
        'h: __type(name: "HealthState") { enumValues { name } } }',
    )
    names = {k: [v["name"] for v in t["enumValues"]] for k, t in values.data.items()}
    assert names == {
        "c": ["RUNNING", "STOPPED"],
        "b": ["CLOSED", "OPEN", "HALF_OPEN"],
        "h": ["STARTING", "UP", "DEGRADED", "DOWN", "STOPPED"],
    }


@pytest.mark.parametrize(
    ("config", "code", "reason"),
    [
        pytest.param(
            {"base_url": "http://10.255.0.1", "api_key": DEMO_KEY},
            "FORBIDDEN",
            "cannot start: refused by the egress policy: 10.255.0.1 is a private address",
            id="egress-refused",
        ),
        pytest.param(
            {}, "CONFIG_INVALID", "cannot start: connector 'bookstore'", id="config-incomplete"
        ),
    ],
)
async def test_a_refused_start_leaves_a_stopped_connector_stopped(
    tmp_path: Path, config: dict[str, str], code: str, reason: str
) -> None:
    async with control_server(tmp_path) as (url, _):
        created = await execute(
            url, CREATE, {"s": bookstore_spec_text(), "c": config, "start": False}
        )
        assert created.errors is None, created.errors
        async with health_events(url) as events:
            refused = await execute(url, START)
            assert refused.errors[0]["extensions"]["code"] == code
            await eventually(lambda: len(events) == 3)
        assert [e["state"] for e in events] == ["STOPPED", "STARTING", "STOPPED"]
        assert events[-1]["reason"].startswith(reason)
        status = await execute(url, '{ connector(name: "bookstore") { state health { state } } }')
        assert status.data["connector"] == {"state": "STOPPED", "health": {"state": "STOPPED"}}


async def test_a_refused_start_of_a_running_connector_judges_it_again(tmp_path: Path) -> None:
    async with (
        FakeUpstream(create_bookstore_app(DEMO_KEY)) as upstream,
        control_server(tmp_path) as (url, control),
    ):
        config = {"base_url": upstream.url, "api_key": DEMO_KEY}
        await execute(url, CREATE, {"s": bookstore_spec_text(), "c": config, "start": True})
        control.egress = EgressPolicy([])  # the upstream on 127.0.0.1 is now refused
        async with health_events(url) as events:
            refused = await execute(url, START)
            assert refused.errors[0]["extensions"]["code"] == "FORBIDDEN"
            await eventually(lambda: len(events) == 3)
        assert [e["state"] for e in events] == ["UP", "STARTING", "UP"]
        assert (await execute(url, '{ bookstore { book(id: "1") { id } } }')).errors is None


async def test_a_connector_that_should_run_but_cannot_is_down(tmp_path: Path) -> None:
    registry = registry_at(tmp_path)
    await registry.start()
    await registry.create("bookstore", "connector: {name: bookstore}\n", "yaml", {}, frozenset())
    await registry.close()
    async with control_server(tmp_path) as (url, _), health_events(url) as events:
        refused = await execute(url, START)
        assert refused.errors[0]["extensions"]["code"] == "SPEC_INVALID"
        await eventually(lambda: len(events) == 3)
    assert [e["state"] for e in events] == ["DOWN", "STARTING", "DOWN"]
    assert events[0]["reason"].startswith("cannot run: bookstore.v1.yaml")
    assert events[-1]["reason"].startswith("cannot start: bookstore.v1.yaml")


async def test_a_stored_connector_whose_config_cannot_run_does_not_stop_the_others(
    tmp_path: Path,
) -> None:
    async with FakeUpstream(create_bookstore_app(DEMO_KEY)) as upstream:
        registry = registry_at(tmp_path)
        await registry.start()
        good = {"base_url": upstream.url, "api_key": DEMO_KEY}
        await registry.create("bookstore", bookstore_spec_text(), "yaml", good, frozenset())
        shop = bookstore_spec_text(**{"connector.name": "shop"})
        await registry.create("shop", shop, "yaml", {"base_url": upstream.url}, frozenset())
        await registry.close()
        async with control_server(tmp_path) as (url, _):
            assert (await execute(url, '{ bookstore { book(id: "1") { id } } }')).errors is None
            status = await execute(url, '{ connector(name: "shop") { health { state reason } } }')
        health = status.data["connector"]["health"]
        assert health["state"] == "DOWN"
        assert "config key 'api_key' is required" in health["reason"]
