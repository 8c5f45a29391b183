"""Start the demo: the bookstore upstream on 127.0.0.1 and its connector in a runtime."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from connectql.demo.upstream import create_bookstore_app
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec

BOOKSTORE_SPEC = Path(__file__).with_name("bookstore.yaml")


async def serve_bookstore() -> tuple[dict[str, str], Callable[[], Awaitable[None]]]:
    """Serve the bookstore API on a free port: the connector's config for it, and the
    cleanup."""
    api_key = secrets.token_urlsafe(24)
    runner = web.AppRunner(create_bookstore_app(api_key), access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = int(runner.addresses[0][1])
    return {"base_url": f"http://127.0.0.1:{port}", "api_key": api_key}, runner.cleanup


def add_bookstore(runtime: Runtime, config: dict[str, str]) -> None:
    """The bookstore connector, calling the upstream that `config` names."""
    runtime.add(load_spec(BOOKSTORE_SPEC), config)


async def start_demo(runtime: Runtime) -> Callable[[], Awaitable[None]]:
    """Serve the bookstore API on a free port and add its connector; return the cleanup."""
    config, cleanup = await serve_bookstore()
    add_bookstore(runtime, config)
    return cleanup
