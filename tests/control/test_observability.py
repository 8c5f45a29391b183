"""Health and metrics subscriptions, /metrics, usage, and restarts that keep connectors."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import aiohttp
from gql import Client, gql

from connectql.demo.upstream import create_bookstore_app
from connectql.testing import FakeUpstream
from tests.support import (
    DEMO_KEY,
    bookstore_spec_text,
    control_server,
    eventually,
    execute,
    ws_transport,
)

CREATE = (
    "mutation($s: String!, $c: JSON) { createConnector(spec: $s, config: $c) "
    "{ ... on ConnectorChanged { applied } } }"
)
BOOK = '{ bookstore { book(id: "1") { id } } }'


def quick_breaker_spec() -> str:
    """The bookstore with a short breaker cool-down and no retries, to watch states move."""
    return bookstore_spec_text(
        **{
            "source.circuit_breaker": {"failure_threshold": 3, "cool_down": 0.5},
            "source.retry": {"max_attempts": 1},
        }
    )


async def subscribe(url: str, query: str, into: list[dict[str, Any]]) -> None:
    async with Client(transport=ws_transport(url)) as session:
        async for event in session.subscribe(gql(query)):
            into.append(event)


async def test_health_goes_down_when_the_upstream_refuses_and_up_when_it_returns(
    tmp_path: Path,
) -> None:
    upstream = FakeUpstream(create_bookstore_app(DEMO_KEY))
    await upstream.start()
    try:
        async with control_server(tmp_path) as (url, _):
            config = {"base_url": upstream.url, "api_key": DEMO_KEY}
            assert (
                await execute(url, CREATE, {"s": quick_breaker_spec(), "c": config})
            ).errors is None
            await execute(url, BOOK)
            events: list[dict[str, Any]] = []
            query = 'subscription { connectorHealth(name: "bookstore") { state reason } }'
            task = asyncio.create_task(subscribe(url, query, events))
            await eventually(lambda: events)
            assert events[0]["connectorHealth"]["state"] == "UP"

            await upstream.stop()  # connections are now refused
            for _ in range(4):
                failed = await execute(url, BOOK)
                assert failed.errors
            await eventually(lambda: events[-1]["connectorHealth"]["state"] == "DOWN")
            assert "circuit open" in events[-1]["connectorHealth"]["reason"] or (
                "calls failed" in events[-1]["connectorHealth"]["reason"]
            )

            await upstream.start()  # the same port again
            await asyncio.sleep(0.6)  # the breaker's cool-down

            async def healthy() -> bool:
                await execute(url, BOOK)
                return events[-1]["connectorHealth"]["state"] == "UP"

            for _ in range(20):
                if await healthy():
                    break
                await asyncio.sleep(0.1)
            states = [e["connectorHealth"]["state"] for e in events]
            assert states[0] == "UP"
            assert "DOWN" in states
            assert states[-1] == "UP"
            task.cancel()
    finally:
        await upstream.stop()


def scrape(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    match = re.search(rf"^{name}{{{re.escape(wanted)}}} (\S+)$", text, re.M)
    assert match, f"{name}{{{wanted}}} not in /metrics"
    return float(match.group(1))


async def test_metrics_subscription_matches_prometheus(tmp_path: Path) -> None:
    async with (
        FakeUpstream(create_bookstore_app(DEMO_KEY)) as upstream,
        control_server(tmp_path) as (url, _),
    ):
        config = {"base_url": upstream.url, "api_key": DEMO_KEY}
        await execute(url, CREATE, {"s": bookstore_spec_text(), "c": config})
        for i in range(3):
            await execute(url, f'{{ bookstore {{ book(id: "{i + 1}") {{ id }} }} }}')
        await execute(url, "{ bookstore { books(first: 60) { nodes { id author { name } } } } }")
        async with Client(transport=ws_transport(url)) as session:
            stream = session.subscribe(
                gql(
                    'subscription { connectorMetrics(name: "bookstore", intervalMs: 100) '
                    "{ requests calls errors retries rateLimitWaits breaker "
                    "latencyMs { count } } }"
                )
            )
            first = (await anext(stream))["connectorMetrics"]
            await stream.aclose()
        async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as resp:
            assert resp.status == 200
            text = await resp.text()
        assert first["requests"] == 3 + 2 + 1  # 3 books, 2 pages of the list, 1 author batch
        total = sum(
            scrape(text, "connectql_upstream_requests_total", connector="bookstore", operation=op)
            for op in ("book", "books", "author")
        )
        assert total == first["requests"]
        assert first["latencyMs"]["count"] == first["requests"]
        assert (
            scrape(text, "connectql_upstream_latency_ms_count", connector="bookstore")
            == (first["latencyMs"]["count"])
        )
        assert scrape(text, "connectql_retries_total", connector="bookstore") == first["retries"]
        assert scrape(text, "connectql_breaker_state", connector="bookstore", state="closed") == 1
        assert scrape(text, "connectql_connector_health", connector="bookstore", state="up") == 1


async def test_usage_counts_calls_per_operation(tmp_path: Path) -> None:
    async with (
        FakeUpstream(create_bookstore_app(DEMO_KEY)) as upstream,
        control_server(tmp_path) as (url, _),
    ):
        config = {"base_url": upstream.url, "api_key": DEMO_KEY}
        await execute(url, CREATE, {"s": bookstore_spec_text(), "c": config})
        await execute(url, BOOK)
        await execute(url, '{ bookstore { book(id: "nope") { id } } }')
        result = await execute(
            url, "{ usage(windowSeconds: 600) { connector operation calls errors } }"
        )
    assert result.data["usage"] == [
        {"connector": "bookstore", "operation": "book", "calls": 2, "errors": 0}
    ]


async def test_schema_changed_is_streamed(tmp_path: Path) -> None:
    async with (
        FakeUpstream(create_bookstore_app(DEMO_KEY)) as upstream,
        control_server(tmp_path) as (url, _),
    ):
        events: list[dict[str, Any]] = []
        query = (
            "subscription { schemaChanged { schemaVersion connector breakingChanges { type } } }"
        )
        task = asyncio.create_task(subscribe(url, query, events))
        await asyncio.sleep(0.3)
        config = {"base_url": upstream.url, "api_key": DEMO_KEY}
        await execute(url, CREATE, {"s": bookstore_spec_text(), "c": config})
        await eventually(lambda: events)
        version = (await execute(url, "{ schemaVersion }")).data["schemaVersion"]
        task.cancel()
    assert events[0]["schemaChanged"] == {
        "schemaVersion": version,
        "connector": "bookstore",
        "breakingChanges": [],
    }


async def test_connectors_come_back_after_a_restart(tmp_path: Path) -> None:
    async with FakeUpstream(create_bookstore_app(DEMO_KEY)) as upstream:
        config = {"base_url": upstream.url, "api_key": DEMO_KEY}
        async with control_server(tmp_path) as (url, _):
            await execute(url, CREATE, {"s": bookstore_spec_text(), "c": config})
            other = bookstore_spec_text(**{"connector.name": "shelf"})
            await execute(url, CREATE, {"s": other, "c": config})
            await execute(
                url, 'mutation { stopConnector(name: "shelf", force: true) { __typename } }'
            )
        async with control_server(tmp_path) as (url, control):
            status = await execute(url, "{ connectors { name state registryVersion } }")
            assert status.data["connectors"] == [
                {"name": "bookstore", "state": "RUNNING", "registryVersion": 1},
                {"name": "shelf", "state": "STOPPED", "registryVersion": 1},
            ]
            answer = await execute(url, BOOK)
            assert answer.data == {"bookstore": {"book": {"id": "1"}}}
            assert control.stored["bookstore"].config["api_key"] == DEMO_KEY
