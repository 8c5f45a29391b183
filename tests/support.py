"""Test support: our app under uvicorn on 127.0.0.1:0, the demo runtime, gql helpers."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import uvicorn
import yaml
from gql import Client, gql
from gql.transport.aiohttp import AIOHTTPTransport
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from graphql import ExecutionResult

from connectql.connectors.egress import EgressPolicy
from connectql.control.access import AccessControl
from connectql.control.service import ControlPlane
from connectql.demo.runner import BOOKSTORE_SPEC
from connectql.events import EventBus
from connectql.registry import Registry, SecretBox, database_url
from connectql.runtime import Runtime
from connectql.server.app import create_app
from connectql.spec.loader import load_spec
from connectql.testing import FakeUpstream
from tests.processes import START_TIMEOUT

DEMO_KEY = "demo-key-for-tests-0123456789"
ADMIN_KEY = "admin-key-for-tests-0123456789"
VIEWER_KEY = "viewer-key-for-tests-0123456789"


def test_access() -> AccessControl:
    return AccessControl([("admin", ADMIN_KEY), ("viewer", VIEWER_KEY)])


@contextlib.asynccontextmanager
async def serving(
    runtime: Runtime, control: ControlPlane | None = None, access: AccessControl | None = None
) -> AsyncIterator[str]:
    """Run the connectql app for `runtime` under uvicorn; yield its base URL."""
    app = create_app(runtime, control=control, access=access or test_access())
    async with running(app) as url:
        yield url


@contextlib.asynccontextmanager
async def running(app: Any) -> AsyncIterator[str]:
    """An ASGI app under uvicorn on 127.0.0.1:0 (start bounded); yield its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(START_TIMEOUT):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def eventually(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll `check` (a function, or a coroutine function) until it gives something truthy,
    and return that; fail after `timeout` seconds, which is generous for a loaded machine."""
    async with asyncio.timeout(timeout):
        while True:
            result = check()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result
            await asyncio.sleep(0.05)


def bookstore_runtime(upstream: FakeUpstream, **overrides: Any) -> Runtime:
    runtime = Runtime(**overrides)
    runtime.add(load_spec(BOOKSTORE_SPEC), {"base_url": upstream.url, "api_key": DEMO_KEY})
    return runtime


async def _result(session: Any, query: str, variables: dict[str, Any] | None) -> ExecutionResult:
    """The whole result, errors included: gql raises on errors, so unwrap its exception."""
    request = gql(query)
    if variables:
        request.variable_values = variables
    try:
        result: ExecutionResult = await session.execute(request, get_execution_result=True)
    except TransportQueryError as exc:
        return ExecutionResult(data=exc.data, errors=exc.errors, extensions=exc.extensions)
    return result


async def execute(
    url: str,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    key: str | None = ADMIN_KEY,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Any:
    """Send one query with gql over HTTP and return the raw result (data and errors);
    `timeout` bounds the wait for the answer."""
    sent = {"Authorization": f"Bearer {key}"} if key else {}
    transport = AIOHTTPTransport(url=f"{url}/graphql", headers={**sent, **(headers or {})})
    async with Client(transport=transport, execute_timeout=timeout) as session:
        return await _result(session, query, variables)


def ws_transport(url: str, key: str | None = ADMIN_KEY) -> WebsocketsTransport:
    return WebsocketsTransport(
        url=f"{url.replace('http', 'ws', 1)}/graphql",
        init_payload={"authorization": f"Bearer {key}"} if key else {},
    )


async def execute_ws(
    url: str, query: str, variables: dict[str, Any] | None = None, *, key: str | None = ADMIN_KEY
) -> Any:
    transport = ws_transport(url, key)
    async with Client(transport=transport) as session:
        return await _result(session, query, variables)


def registry_at(path: Path, url: str | None = None) -> Registry:
    """A registry in `path` (SQLite), or at `url`, with a fixed test secret key file."""
    box = SecretBox.from_env_or_file(path / "test.key", env={})
    return Registry(database_url(url, path / "registry.db"), box)


@contextlib.asynccontextmanager
async def control_server(
    path: Path,
    *,
    url: str | None = None,
    bus: EventBus | None = None,
    runtime: Runtime | None = None,
) -> AsyncIterator[tuple[str, ControlPlane]]:
    """Our server with a control plane over a registry in `path` (or at `url`)."""
    live = runtime or Runtime()
    control = ControlPlane(live, registry_at(path, url), bus, EgressPolicy(["127.0.0.1"]))
    async with serving(live, control) as base:
        yield base, control


def bookstore_spec_text(**changes: Any) -> str:
    """The demo spec as YAML text; `changes` are dotted paths set to new values."""
    raw = yaml.safe_load(BOOKSTORE_SPEC.read_text())
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = raw
        for part in parents:
            node = node[part]
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return yaml.safe_dump(raw, sort_keys=False)
