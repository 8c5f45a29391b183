"""A Redis outage between two replicas: mutations still succeed, the replicas converge from
the registry's change count, and events flow again once Redis is back.

Each test runs a redis-server of its own on a free port, so stopping it never touches the
Redis other tests share.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
import yaml
from gql import Client, gql

from connectql.connectors.egress import EgressPolicy
from connectql.control.service import ControlPlane
from connectql.events import LocalBus
from connectql.events.bus import RECONNECTED
from connectql.events.redis import RETRY_SECONDS, RedisBus
from connectql.runtime import Runtime
from connectql.testing import FakeUpstream
from tests.control.services import ADMIN, ServerProcess, fresh_postgres
from tests.processes import Processes, ServeProcess, free_port
from tests.support import (
    DEMO_KEY,
    bookstore_spec_text,
    eventually,
    execute,
    registry_at,
    ws_transport,
)

RECONCILE = 2.0
"""The replicas' reconcile interval here (registry.reconcile_seconds; default 5)."""
CONVERGED = RECONCILE + 4.0
"""How long a replica may take to catch up without Redis: one interval (measured: 1.8-2.0 s),
plus a loaded machine's slack."""
FAST = 1.0
"""How long a change may take to reach the other replica through Redis (measured: under
0.1 s): well under one interval."""
UNREACHABLE = "event bus: Redis is unreachable"

CREATE = (
    "mutation($s: String!, $c: JSON) { createConnector(spec: $s, config: $c) "
    "{ ... on ConnectorChanged { applied } } }"
)
UPDATE = (
    'mutation($s: String!) { updateConnector(name: "shop", spec: $s) '
    "{ ... on ConnectorChanged { applied } } }"
)
DELETE = (
    'mutation { deleteConnector(name: "shop", force: true) '
    "{ ... on ConnectorChanged { applied } } }"
)
CONNECTORS = "{ connectors { name title registryVersion } }"


class RedisServer:
    """A redis-server of the test's own on `port`, stopped and started again at will."""

    BINARY = shutil.which("redis-server") or "/usr/bin/redis-server"

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.address = ("--port", str(self.port), "--bind", "127.0.0.1")
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        """Start it and wait until it accepts connections (bounded)."""
        self.process = subprocess.Popen(
            [self.BINARY, *("--save", "", "--appendonly", "no"), *self.address],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        async with asyncio.timeout(10):
            while True:
                assert self.process.poll() is None, "redis-server exited at start"
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", self.port), timeout=1),
                ):
                    return
                await asyncio.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@pytest.fixture
async def own_redis() -> AsyncIterator[RedisServer]:
    if not Path(RedisServer.BINARY).exists():
        message = f"redis-server is not installed ({RedisServer.BINARY})"
        if os.environ.get("CONNECTQL_REQUIRE_SERVICES") == "1":
            pytest.fail(message + "; CONNECTQL_REQUIRE_SERVICES=1 requires it")
        pytest.skip(message)
    server = RedisServer()
    try:
        await server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
async def postgres() -> AsyncIterator[str]:
    async for url in fresh_postgres():
        yield url


# --- the bus alone -------------------------------------------------------------------------------


async def test_publish_never_raises_while_redis_is_down(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    prefix = f"cq-test-{uuid.uuid4().hex[:8]}:"
    bus, other = RedisBus(own_redis.url, prefix), RedisBus(own_redis.url, prefix)
    await bus.start()
    try:
        async with bus.subscribe("t", RECONNECTED) as here, other.subscribe("t") as there:
            own_redis.stop()
            with caplog.at_level(logging.WARNING, logger="connectql.events"):
                for n in range(5):
                    await bus.publish("t", {"n": n})  # must not raise
                await asyncio.sleep(RETRY_SECONDS * 1.5)  # the listener tried again too
                await bus.publish("t", {"n": 5})
                # this replica's subscribers don't depend on Redis
                assert [(await here.get())["n"] for _ in range(6)] == [0, 1, 2, 3, 4, 5]
                warnings = [r for r in caplog.records if UNREACHABLE in r.getMessage()]
                assert len(warnings) == 1, "one warning per outage, not one per event"

            await own_redis.start()
            async with asyncio.timeout(10):  # listening again: followers are told to catch up
                assert (await here.get())["origin"] == bus.origin
            await other.start()

            async def heard_there() -> Any:
                await bus.publish("t", {"n": "back"})
                with contextlib.suppress(TimeoutError):
                    return (await asyncio.wait_for(there.get(), 0.5))["n"] == "back"

            await eventually(heard_there, timeout=10)
    finally:
        await bus.close()
        await other.close()


async def test_publish_to_a_redis_never_reached_does_not_raise() -> None:
    bus = RedisBus(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    try:
        async with bus.subscribe("t") as here:
            await bus.publish("t", {"n": 1})
            assert here.get_nowait()["n"] == 1
    finally:
        await bus.close()


async def test_a_replica_starts_while_redis_is_down_and_listens_once_it_is_up() -> None:
    redis = RedisServer()  # not started yet
    bus = RedisBus(redis.url)
    other = RedisBus(redis.url)
    try:
        async with bus.subscribe(RECONNECTED) as reconnected, bus.subscribe("t") as here:
            await bus.start()  # no exception: Redis is an accelerator
            await redis.start()
            await other.start()
            await asyncio.wait_for(reconnected.get(), 10)  # followers are told to catch up

            async def heard() -> bool:
                await other.publish("t", {"n": "hello"})
                with contextlib.suppress(TimeoutError):
                    return (await asyncio.wait_for(here.get(), 0.5))["n"] == "hello"
                return False

            await eventually(heard, timeout=10)
    finally:
        await bus.close()
        await other.close()
        redis.stop()


# --- the registry's change count -----------------------------------------------------------------


async def test_replicas_without_any_bus_between_them_converge_from_sqlite(
    tmp_path: Path, bookstore: FakeUpstream
) -> None:
    def plane() -> ControlPlane:
        egress = EgressPolicy(["127.0.0.1"])
        return ControlPlane(
            Runtime(), registry_at(tmp_path), LocalBus(), egress, reconcile_seconds=0.2
        )

    a, b = plane(), plane()
    await a.start()
    await b.start()
    try:
        config = {"base_url": bookstore.url, "api_key": DEMO_KEY}
        await a.create(bookstore_spec_text(), config=config)
        served_by_a = a.runtime.version
        await eventually(lambda: "bookstore" in b.runtime.connectors, timeout=5)
        served_by_b = b.runtime.version
        await asyncio.sleep(1.0)  # five checks each
        assert a.runtime.version == served_by_a, "its own write made A reload"
        assert b.runtime.version == served_by_b, "a count that did not move made B reload"
        await b.delete("bookstore", force=True)
        await eventually(lambda: "bookstore" not in a.runtime.connectors, timeout=5)
    finally:
        await a.stop()
        await b.stop()


# --- two replicas --------------------------------------------------------------------------------


def replica(directory: Path, env: dict[str, str], prefix: str) -> ServerProcess:
    """A replica checking the registry every RECONCILE seconds."""
    server = ServerProcess(directory, env, prefix)
    config_file = directory / "connectql.yaml"
    config = yaml.safe_load(config_file.read_text())
    config["registry"]["reconcile_seconds"] = RECONCILE
    config_file.write_text(yaml.safe_dump(config))
    return server


async def shop_on(url: str) -> dict[str, Any] | None:
    listed = await execute(url, CONNECTORS, key=ADMIN)
    return next((c for c in listed.data["connectors"] if c["name"] == "shop"), None)


async def mutate(server: ServeProcess, query: str, variables: dict[str, Any] | None = None) -> None:
    """Run a connector mutation; it must succeed."""
    result = await execute(server.url, query, variables, key=ADMIN)
    # not INTERNAL: the change is committed, and said so
    assert result.errors is None, f"{result.errors}\n{server.output[-3000:]}"
    assert list(result.data.values()) == [{"applied": True}], result.data


@contextlib.asynccontextmanager
async def heard(redis: RedisServer, channel: str) -> AsyncIterator[asyncio.Event]:
    """An asyncio.Event set once something is published on `channel`."""
    client = aioredis.from_url(redis.url)
    seen = asyncio.Event()
    try:
        async with client.pubsub() as pubsub:
            await pubsub.subscribe(channel)
            confirmed = await pubsub.get_message(timeout=5)  # subscribed before any publish
            assert confirmed is not None, "no confirmation of SUBSCRIBE"

            async def listen() -> None:
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        seen.set()

            listener = asyncio.create_task(listen())
            try:
                yield seen
            finally:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener
    finally:
        await client.aclose()


async def new_key(server: ServeProcess) -> str:
    async with aiohttp.ClientSession(headers={"X-API-Key": ADMIN}) as http:
        body = {"name": "dashboard", "role": "viewer"}
        async with http.post(f"{server.url}/api/keys", json=body) as resp:
            assert resp.status == 201, await resp.text()
            return str((await resp.json())["key"])


async def revoke_key(server: ServeProcess, name: str) -> None:
    async with (
        aiohttp.ClientSession(headers={"X-API-Key": ADMIN}) as http,
        http.delete(f"{server.url}/api/keys/{name}") as resp,
    ):
        assert resp.status == 204, await resp.text()


async def subscribers_on(redis: RedisServer) -> int:
    """How many clients listen on the Redis (the replicas' event listeners)."""
    client = aioredis.from_url(redis.url)
    try:
        clients = await client.client_list()
    finally:
        await client.aclose()
    return sum(1 for c in clients if int(c.get("psub", 0)) > 0)


async def test_replicas_converge_without_redis_and_events_resume_after_it(
    tmp_path: Path,
    postgres: str,
    own_redis: RedisServer,
    bookstore: FakeUpstream,
    processes: Processes,
) -> None:
    prefix = f"cq-test-{uuid.uuid4().hex[:8]}:"
    env = {"DATABASE_URL": postgres, "REDIS_URL": own_redis.url}
    a = processes.adopt(replica(tmp_path / "a", env, prefix))
    b = processes.adopt(replica(tmp_path / "b", env, prefix))
    config = {"base_url": bookstore.url, "api_key": DEMO_KEY}
    shop = bookstore_spec_text(**{"connector.name": "shop", "connector.title": "Shop"})
    health: list[dict[str, Any]] = []
    watcher: asyncio.Task[None] | None = None

    async def b_answers(key: str, status: int) -> bool:
        async with (
            aiohttp.ClientSession(headers={"X-API-Key": key}) as http,
            http.get(f"{b.url}/api/connectors") as resp,
        ):
            return resp.status == status

    try:
        await asyncio.gather(a.start(), b.start())
        await mutate(a, CREATE, {"s": bookstore_spec_text(), "c": config})

        async def b_serves_bookstore() -> Any:
            result = await execute(b.url, '{ bookstore { book(id: "2") { title } } }', key=ADMIN)
            return result.errors is None

        await eventually(b_serves_bookstore, timeout=CONVERGED)

        async def watch() -> None:
            async with Client(transport=ws_transport(b.url, ADMIN)) as session:
                query = 'subscription { connectorHealth(name: "bookstore") { state replica } }'
                async for event in session.subscribe(gql(query)):
                    health.append(event["connectorHealth"])

        watcher = asyncio.create_task(watch())
        await eventually(lambda: health)
        b_origin = health[0]["replica"]

        # Redis goes away: every change on A is acknowledged, and reaches B from the registry.
        own_redis.stop()
        await mutate(a, CREATE, {"s": shop, "c": config})

        async def b_serves_shop() -> Any:
            result = await execute(b.url, '{ shop { book(id: "2") { title } } }', key=ADMIN)
            return result.errors is None

        await eventually(b_serves_shop, timeout=CONVERGED)

        await mutate(a, UPDATE, {"s": shop.replace("title: Shop", "title: Shop 2")})

        async def b_has_version_2() -> Any:
            found = await shop_on(b.url)
            return found == {"name": "shop", "title": "Shop 2", "registryVersion": 2}

        await eventually(b_has_version_2, timeout=CONVERGED)

        await mutate(a, DELETE)

        async def b_has_no_shop() -> Any:
            return await shop_on(b.url) is None

        await eventually(b_has_no_shop, timeout=CONVERGED)

        # API keys too: a key made on A opens B, and revoked on A it closes B again.
        key = await new_key(a)
        await eventually(lambda: b_answers(key, 200), timeout=CONVERGED)
        await revoke_key(a, "dashboard")
        await eventually(lambda: b_answers(key, 401), timeout=CONVERGED)
        for server in (a, b):
            assert server.output.count(UNREACHABLE) == 1, server.output[-3000:]

        # Redis is back: both listen again, and events cross between the replicas again.
        await own_redis.start()

        async def both_listening() -> Any:
            return await subscribers_on(own_redis) == 2

        await eventually(both_listening, timeout=10)

        before = len(health)
        await bookstore.stop()
        for _ in range(3):
            await execute(a.url, '{ bookstore { book(id: "2") { title } } }', key=ADMIN)

        async def down_from_a() -> Any:
            new = health[before:]
            return [e for e in new if e["state"] == "DOWN" and e["replica"] != b_origin]

        await eventually(down_from_a, timeout=10)

        # A change now reaches B through Redis: seen there, and faster than B's own checks.
        async with heard(own_redis, prefix + "registry.changed") as published:
            await mutate(a, CREATE, {"s": shop, "c": config})

            async def b_has_shop() -> Any:
                return await shop_on(b.url) is not None

            await eventually(b_has_shop, timeout=FAST)
            await asyncio.wait_for(published.wait(), 5)
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher
        await asyncio.gather(a.stop(), b.stop())
