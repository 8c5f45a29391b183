"""A fake upstream harness: an aiohttp app on 127.0.0.1:0 with a recorder and a fault injector.

    upstream = FakeUpstream()
    upstream.app.router.add_get("/books", list_books)
    async with upstream:
        ...  # call upstream.url
        assert upstream.count("GET", "/books") == 1
        upstream.faults.add(Fault(status=503), times=1)

Every request is recorded before any fault applies, so tests count what reached the server.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy, MultiMapping

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: MultiMapping[str]
    headers: CIMultiDictProxy[str]
    body: bytes
    raw_path: str = ""
    """The path and query string exactly as they arrived, percent-encoding and all."""

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Fault:
    """What to do instead of (or before) the real handler.

    status: answer with this status, `headers` and `body` instead of the handler.
    delay: wait this long first (then run the handler unless `status` is set).
    reset: close the connection without an answer.
    malformed: run the handler, then send a broken body with its content type.
    rewrite: run the handler, then send its JSON body changed by this function (a missing
    field, a value of the wrong type, a null item: the upstream breaking its own contract).
    """

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | str = b""
    delay: float = 0.0
    reset: bool = False
    malformed: bool = False
    rewrite: Callable[[Any], Any] | None = None
    match: Callable[[web.Request], bool] | None = None


class FaultInjector:
    def __init__(self) -> None:
        self._faults: list[list[Any]] = []

    def add(self, fault: Fault, *, times: int | None = 1) -> None:
        """Apply `fault` to the next `times` matching requests (None: until cleared)."""
        self._faults.append([fault, times])

    def clear(self) -> None:
        self._faults.clear()

    def take(self, request: web.Request) -> Fault | None:
        for entry in self._faults:
            fault, times = entry
            if fault.match is not None and not fault.match(request):
                continue
            if times is not None:
                entry[1] = times - 1
                if entry[1] <= 0:
                    self._faults.remove(entry)
            return fault  # type: ignore[no-any-return]
        return None


class FakeUpstream:
    def __init__(
        self, app: web.Application | None = None, *, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        """`ssl_context`: serve HTTPS with it (for clients that only speak https://)."""
        self.app = app if app is not None else web.Application()
        self.ssl_context = ssl_context
        self.app.middlewares.append(self._middleware)
        self.requests: list[RecordedRequest] = []
        self.faults = FaultInjector()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def count(self, method: str | None = None, path: str | None = None) -> int:
        return sum(
            1
            for r in self.requests
            if (method is None or r.method == method) and (path is None or r.path == path)
        )

    def reset(self) -> None:
        self.requests.clear()
        self.faults.clear()

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        # A restarted upstream comes back on the same port (tests of outages need that).
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=self.ssl_context)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeUpstream:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            RecordedRequest(
                request.method,
                request.path,
                request.query,
                request.headers,
                body,
                request.raw_path,
            )
        )
        fault = self.faults.take(request)
        if fault is None:
            return await handler(request)
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.reset:
            transport = request.transport
            if transport is not None:
                transport.abort()
            raise asyncio.CancelledError
        if fault.status is not None:
            raw = fault.body.encode() if isinstance(fault.body, str) else fault.body
            return web.Response(status=fault.status, body=raw, headers=fault.headers)
        response = await handler(request)
        if fault.malformed and isinstance(response, web.Response):
            broken = web.Response(status=response.status, body=b'{"truncated": [1, 2,')
            broken.content_type = response.content_type
            return broken
        if (
            fault.rewrite is not None
            and isinstance(response, web.Response)
            and response.content_type == "application/json"
            and isinstance(response.body, bytes)
        ):
            changed = fault.rewrite(orjson.loads(response.body))
            headers = CIMultiDict(response.headers)
            headers.popall("Content-Length", None)
            return web.Response(status=response.status, body=orjson.dumps(changed), headers=headers)
        return response
