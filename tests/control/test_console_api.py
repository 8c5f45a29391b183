"""What the console reads beyond the connector API: last errors, a version's spec text, and
one subscription for every connector's health and metrics."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from gql import Client, gql

from connectql.demo.upstream import create_bookstore_app
from connectql.testing import FakeUpstream, Fault
from tests.support import (
    DEMO_KEY,
    VIEWER_KEY,
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
NO_RETRY = {"source.retry": {"max_attempts": 1}}


async def _create(url: str, upstream: FakeUpstream, **changes: Any) -> None:
    config = {"base_url": upstream.url, "api_key": DEMO_KEY}
    spec = bookstore_spec_text(**NO_RETRY, **changes)
    created = await execute(url, CREATE, {"s": spec, "c": config})
    assert created.errors is None, created.errors


async def test_last_errors_tell_operation_code_message_and_when(
    tmp_path: Path, bookstore: FakeUpstream
) -> None:
    async with control_server(tmp_path) as (url, _):
        await _create(url, bookstore)
        bookstore.faults.add(Fault(status=503, body="busy"), times=1)
        failed = await execute(url, BOOK)
        assert failed.errors
        await execute(url, BOOK)  # a success is no error

        query = '{ connector(name: "bookstore") { lastErrors { operation code message at } } }'
        result = await execute(url, query, key=VIEWER_KEY)
        assert result.errors is None
        (error,) = result.data["connector"]["lastErrors"]
        assert error["operation"] == "book"
        assert error["code"] == failed.errors[0]["extensions"]["code"]
        assert error["message"] == failed.errors[0]["message"]
        assert error["at"].endswith("+00:00")

        histogram = '{ connector(name: "bookstore") { metrics { latencyMs { count buckets '
        histogram += "{ le count } } } } }"
        latency = (await execute(url, histogram)).data["connector"]["metrics"]["latencyMs"]
        assert sum(b["count"] for b in latency["buckets"]) == latency["count"] == 2
        assert latency["buckets"][-1]["le"] is None
        assert DEMO_KEY not in str(result.data)


async def test_a_versions_spec_text_is_for_admins(tmp_path: Path, bookstore: FakeUpstream) -> None:
    async with control_server(tmp_path) as (url, _):
        await _create(url, bookstore)
        update = (
            'mutation($s: String!) { updateConnector(name: "bookstore", spec: $s) { __typename } }'
        )
        changed = bookstore_spec_text(**NO_RETRY, **{"connector.version": "2.0.0"})
        assert (await execute(url, update, {"s": changed})).errors is None

        query = '{ connector(name: "bookstore") { versions { version spec } } }'
        admin = await execute(url, query)
        assert admin.errors is None
        texts = {v["version"]: v["spec"] for v in admin.data["connector"]["versions"]}
        assert set(texts) == {1, 2}
        assert "2.0.0" in texts[2]
        assert "2.0.0" not in texts[1]

        viewer = await execute(url, query, key=VIEWER_KEY)
        assert viewer.data is None or viewer.data["connector"] is None
        assert "admin" in viewer.errors[0]["message"]


async def _collect(url: str, query: str, into: list[Any]) -> None:
    async with Client(transport=ws_transport(url, VIEWER_KEY)) as session:
        async for event in session.subscribe(gql(query)):
            into.append(event)


@contextlib.asynccontextmanager
async def _listening(url: str, query: str, into: list[Any]) -> AsyncIterator[None]:
    task = asyncio.create_task(_collect(url, query, into))
    try:
        await eventually(lambda: into)
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_one_subscription_streams_every_connectors_health_and_metrics(
    tmp_path: Path, bookstore: FakeUpstream
) -> None:
    other = FakeUpstream(create_bookstore_app(DEMO_KEY))
    async with other, control_server(tmp_path) as (url, _):
        await _create(url, bookstore)
        await _create(url, other, **{"connector.name": "shelf"})
        await execute(url, BOOK)

        healths: list[Any] = []
        metrics: list[Any] = []
        health = "subscription { connectorHealth { connector state } }"
        every = "subscription { connectorsMetrics(intervalMs: 100) { connector calls } }"
        async with _listening(url, health, healths), _listening(url, every, metrics):
            await eventually(lambda: len(healths) >= 2)
            assert {h["connectorHealth"]["connector"] for h in healths} == {
                "bookstore",
                "shelf",
            }
            assert metrics[0]["connectorsMetrics"] == [
                {"connector": "bookstore", "calls": 1},
                {"connector": "shelf", "calls": 0},
            ]

            await other.stop()  # shelf's calls now fail, and it goes down
            for _ in range(3):
                assert (await execute(url, '{ shelf { book(id: "1") { id } } }')).errors

            def shelf_down() -> bool:
                return any(
                    h["connectorHealth"] == {"connector": "shelf", "state": "DOWN"} for h in healths
                )

            await eventually(shelf_down)
            await eventually(
                lambda: {"connector": "shelf", "calls": 3} in metrics[-1]["connectorsMetrics"]
            )


async def test_operations_come_with_their_graphql_fields(server: str) -> None:
    query = '{ connector(name: "bookstore") { operationFields { name kind field } } }'
    result = await execute(server, query, key=VIEWER_KEY)
    assert result.errors is None
    fields = {op["name"]: op for op in result.data["connector"]["operationFields"]}
    assert fields["book"] == {
        "name": "book",
        "kind": "query",
        "field": "query { bookstore { book } }",
    }
    assert fields["createBook"]["field"] == "mutation { bookstore { createBook } }"
    # each field is one the schema has
    assert (await execute(server, '{ bookstore { book(id: "1") { id } } }')).errors is None
