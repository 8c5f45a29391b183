"""Replicas sharing PostgreSQL and Redis; restarts from PostgreSQL; kill -9 mid-write."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from connectql.demo.upstream import create_bookstore_app
from connectql.spec.loader import load_spec_text
from connectql.testing import FakeUpstream
from tests.control.services import ADMIN, ServerProcess, fresh_postgres, redis_url
from tests.processes import Processes
from tests.support import DEMO_KEY, bookstore_spec_text, eventually, execute, ws_transport

CREATE = (
    "mutation($s: String!, $c: JSON) { createConnector(spec: $s, config: $c) "
    "{ ... on ConnectorChanged { applied } } }"
)
BOOK = '{ bookstore { book(id: "2") { title } } }'


@pytest.fixture
async def postgres() -> AsyncIterator[str]:
    async for url in fresh_postgres():
        yield url


@pytest.fixture
async def bookstore() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(create_bookstore_app(DEMO_KEY)) as upstream:
        yield upstream


async def test_two_replicas_share_connectors_and_health_events(
    tmp_path: Path, postgres: str, bookstore: FakeUpstream, processes: Processes
) -> None:
    redis = await redis_url()
    prefix = f"cq-test-{uuid.uuid4().hex[:8]}:"
    env = {"DATABASE_URL": postgres, "REDIS_URL": redis}
    a = processes.adopt(ServerProcess(tmp_path / "a", env, prefix))
    b = processes.adopt(ServerProcess(tmp_path / "b", env, prefix))
    spec = bookstore_spec_text(
        **{
            "source.circuit_breaker": {"failure_threshold": 2, "cool_down": 30},
            "source.retry": {"max_attempts": 1},
        }
    )
    watcher: asyncio.Task[None] | None = None
    try:
        await asyncio.gather(a.start(), b.start())
        config = {"base_url": bookstore.url, "api_key": DEMO_KEY}
        created = await execute(a.url, CREATE, {"s": spec, "c": config}, key=ADMIN)
        assert created.data == {"createConnector": {"applied": True}}, created

        async def queried_on_b() -> Any:
            result = await execute(b.url, BOOK, key=ADMIN)
            return result.data if result.errors is None else None

        assert await eventually(queried_on_b) == {"bookstore": {"book": {"title": "Book 2"}}}

        # B hears A's health events.
        from gql import Client, gql

        events: list[dict[str, Any]] = []

        async def watch() -> None:
            async with Client(transport=ws_transport(b.url, ADMIN)) as session:
                query = 'subscription { connectorHealth(name: "bookstore") { state replica } }'
                async for event in session.subscribe(gql(query)):
                    events.append(event["connectorHealth"])

        watcher = asyncio.create_task(watch())
        await eventually(lambda: events)
        await bookstore.stop()
        for _ in range(3):
            await execute(a.url, BOOK, key=ADMIN)  # only A's connector sees the outage

        async def down_from_a() -> Any:
            return [e for e in events if e["state"] == "DOWN"] or None

        downs = await eventually(down_from_a)
        b_origin = events[0]["replica"]
        assert any(e["replica"] != b_origin for e in downs)
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher
        await asyncio.gather(a.stop(), b.stop())


async def test_connectors_come_back_from_postgres(
    tmp_path: Path, postgres: str, bookstore: FakeUpstream, processes: Processes
) -> None:
    env = {"DATABASE_URL": postgres}
    first = processes.adopt(ServerProcess(tmp_path, env))
    await first.start()
    try:
        config = {"base_url": bookstore.url, "api_key": DEMO_KEY}
        await execute(first.url, CREATE, {"s": bookstore_spec_text(), "c": config}, key=ADMIN)
    finally:
        await first.stop()
    second = processes.adopt(ServerProcess(tmp_path, env))
    await second.start()
    try:
        result = await execute(second.url, BOOK, key=ADMIN)
        assert result.data == {"bookstore": {"book": {"title": "Book 2"}}}
    finally:
        await second.stop()


@pytest.mark.timeout(300)  # 200 concurrent creates on a machine that may be fully loaded
async def test_kill_9_during_concurrent_creates_loses_nothing_acknowledged(
    tmp_path: Path, bookstore: FakeUpstream, processes: Processes
) -> None:
    server = processes.adopt(ServerProcess(tmp_path, {}))
    await server.start()
    config = {"base_url": bookstore.url, "api_key": DEMO_KEY}
    acknowledged: list[str] = []

    async def create(i: int) -> None:
        name = f"shop_{i}"
        spec = bookstore_spec_text(**{"connector.name": name})
        try:
            # queued behind the others on a loaded machine: wait for the answer, however long
            result = await execute(
                server.url, CREATE, {"s": spec, "c": config}, key=ADMIN, timeout=300
            )
        except Exception:  # the server died under this call: not acknowledged
            return
        if result.data and result.data["createConnector"] == {"applied": True}:
            acknowledged.append(name)

    calls = [asyncio.create_task(create(i)) for i in range(200)]
    try:
        await eventually(lambda: len(acknowledged) >= 10, timeout=150)
    finally:
        server.kill()
        await asyncio.wait_for(asyncio.gather(*calls), 60)
    assert 10 <= len(acknowledged) < 200

    database = tmp_path / "connectql.db"
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT c.name, c.current_version, v.spec_text FROM connectors c "
            "LEFT JOIN connector_versions v ON v.connector_id = c.id "
            "AND v.version = c.current_version"
        ).fetchall()
    stored = {name: text for name, _, text in rows}
    assert set(acknowledged) <= set(stored)
    for name, text in stored.items():
        assert text is not None, f"{name} has no spec version: half-written"
        assert load_spec_text(text, f"{name}.yaml").name == name

    again = processes.adopt(ServerProcess(tmp_path, {}, port=server.port))
    await again.start()
    try:
        listed = await execute(again.url, "{ connectors { name state } }", key=ADMIN)
        names = {c["name"] for c in listed.data["connectors"] if c["state"] == "RUNNING"}
        assert set(acknowledged) <= names
        probe = acknowledged[0]
        answer = await execute(
            again.url, f'{{ {probe} {{ book(id: "2") {{ title }} }} }}', key=ADMIN
        )
        assert answer.data == {probe: {"book": {"title": "Book 2"}}}
    finally:
        await again.stop()
