"""A connectql server for looking at the console: a registry connector with two spec versions,
`extra` config connectors over the demo bookstore, one connector whose upstream is gone, and
traffic so the charts move. Used by console_screenshots.py and bench_console.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import uvicorn
import yaml

from connectql.connectors.egress import EgressPolicy
from connectql.control.access import AccessControl
from connectql.control.service import ControlPlane
from connectql.demo.runner import BOOKSTORE_SPEC
from connectql.demo.upstream import create_bookstore_app
from connectql.registry import Registry, SecretBox, database_url
from connectql.runtime import Runtime
from connectql.server.app import create_app
from connectql.spec.loader import load_spec_text
from connectql.testing import FakeUpstream

ADMIN_KEY = "console-admin-key-0123456789"
VIEWER_KEY = "console-viewer-key-0123456789"
UPSTREAM_KEY = "console-upstream-key-0123456789"


def spec_text(name: str, **changes: Any) -> str:
    """The demo bookstore spec under another connector name; `changes`: dotted path → value."""
    raw = yaml.safe_load(BOOKSTORE_SPEC.read_text())
    raw["connector"]["name"] = name
    raw["connector"].pop("title", None)
    raw["source"]["retry"] = {"max_attempts": 1}
    raw["source"]["circuit_breaker"] = {"failure_threshold": 3, "cool_down": 2}
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = raw
        for part in parents:
            node = node[part]
        node[last] = value
    return yaml.safe_dump(raw, sort_keys=False)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ConsoleServer:
    url: str
    upstream: FakeUpstream
    names: list[str]
    """Every connector, the registry's `bookstore` first."""

    async def query(self, http: aiohttp.ClientSession, name: str, book: int | None = None) -> None:
        """One book of connector `name` (a random one unless `book`)."""
        book = book or random.randint(1, 20)
        body = {"query": f'{{ {name} {{ book(id: "{book}") {{ id }} }} }}'}
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        async with http.post(f"{self.url}/graphql", json=body, headers=headers) as response:
            await response.read()

    async def traffic(self, per_second: float = 20.0) -> None:
        """Queries to random connectors until cancelled."""
        async with aiohttp.ClientSession() as http:
            while True:
                await asyncio.gather(
                    *(self.query(http, random.choice(self.names)) for _ in range(4)),
                    return_exceptions=True,
                )
                await asyncio.sleep(4 / per_second)


CREATE = """mutation($spec: String!, $config: JSON) {
  createConnector(spec: $spec, config: $config) { __typename } }"""
UPDATE = """mutation($spec: String!) {
  updateConnector(name: "bookstore", spec: $spec) { __typename } }"""


async def _graphql(url: str, query: str, variables: dict[str, Any]) -> Any:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    body = {"query": query, "variables": variables}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{url}/graphql", json=body, headers=headers) as response,
    ):
        answer = await response.json()
    if answer.get("errors"):
        raise RuntimeError(f"{query.split()[1]}: {answer['errors']}")
    return answer["data"]


@contextlib.asynccontextmanager
async def console_server(directory: Path, extra: int = 2) -> AsyncIterator[ConsoleServer]:
    """The server on 127.0.0.1 (its registry and key file in `directory`)."""
    async with FakeUpstream(create_bookstore_app(UPSTREAM_KEY)) as upstream:
        config = {"base_url": upstream.url, "api_key": UPSTREAM_KEY}
        runtime = Runtime()
        names = [f"store{i:03d}" for i in range(1, extra + 1)]
        for name in names:
            runtime.add(load_spec_text(spec_text(name), f"{name}.yaml"), config)
        gone = {**config, "base_url": f"http://127.0.0.1:{_closed_port()}"}
        runtime.add(load_spec_text(spec_text("legacy"), "legacy.yaml"), gone)
        box = SecretBox.from_env_or_file(directory / "secret.key", env={})
        registry = Registry(database_url(None, directory / "registry.db"), box)
        control = ControlPlane(runtime, registry, egress=EgressPolicy(["127.0.0.1"]))
        access = AccessControl([("admin", ADMIN_KEY), ("viewer", VIEWER_KEY)])
        app = create_app(runtime, control=control, access=access)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        )
        task = asyncio.create_task(server.serve())
        try:
            async with asyncio.timeout(60):
                while not server.started:
                    if task.done():
                        task.result()
                    await asyncio.sleep(0.05)
            url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
            await _graphql(url, CREATE, {"spec": spec_text("bookstore"), "config": config})
            second = spec_text("bookstore", **{"connector.version": "0.2.0"})
            await _graphql(url, UPDATE, {"spec": second})
            yield ConsoleServer(url, upstream, ["bookstore", *names, "legacy"])
        finally:
            server.should_exit = True
            await task
