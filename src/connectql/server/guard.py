"""Every request passes here first: who is calling, judged once after the request is decoded,
and how much and how slowly it may send, before anything reads its body.

- /healthz, /readyz and the static assets are public; so are the paths `public` lists
  (`server.public`: /metrics, /docs and /openapi.json) and the GraphiQL page load (a GET of
  /graphql whose decoded parameters hold no `query`, asking for HTML: it carries no data).
- Every other request, GET, POST or WebSocket, needs a role: a valid key, or the anonymous
  role (`server.anonymous`). A WebSocket without one may still bring its key in
  `connection_init` (checked by the GraphQL view).
- On /api, a request that changes something (not GET or HEAD) needs admin, judged before
  FastAPI reads its body (it reads bodies before any dependency runs).
- A body larger than `limits.max_body_size` is answered 413 unread (by Content-Length), or
  as soon as the stream passes the limit; a body that stalls is answered 408. A multipart
  request to /graphql (file uploads) may be up to `limits.max_upload_size` instead.

`HeaderTimeoutH11` closes connections that never finish a request's headers, which uvicorn
would keep open forever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping
from typing import Any

import h11
import orjson
from starlette.datastructures import Headers, QueryParams
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocketClose
from uvicorn.protocols.http.h11_impl import H11Protocol

from connectql.control.access import ADMIN, AccessControl, key_from_headers
from connectql.errors import Forbidden

log = logging.getLogger("connectql.server")

ROLE = "connectql_role"
"""Where the guard leaves the caller's role (scope["state"]) for the views."""
GRAPHQL_PATH = "/graphql"
API_PREFIX = "/api"
READS = ("GET", "HEAD")
NEEDS_KEY = "an API key is needed (Authorization: Bearer KEY)"


def is_page_load(method: str, params: Mapping[str, object], headers: Mapping[str, str]) -> bool:
    """The GraphiQL page, rendered instead of running anything: the GraphQL view decides with
    this same function, so the guard never lets through what the view would execute."""
    accept = headers.get("accept", "")
    return (
        method == "GET"
        and params.get("query") is None
        and ("text/html" in accept or "*/*" in accept)
    )


class Guard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        access: AccessControl,
        max_body_size: int,
        body_timeout: float,
        public_paths: Collection[str] = (),
        public_prefixes: Collection[str] = (),
        max_upload_size: int | None = None,
    ) -> None:
        self.app = app
        self.access = access
        self.max_body_size = max_body_size
        self.max_upload_size = max(max_upload_size or 0, max_body_size)
        self.body_timeout = body_timeout
        self.public_paths = frozenset(public_paths)
        self.public_prefixes = tuple(public_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        headers = Headers(scope=scope)
        if not self._public(scope, path, headers):
            refusal = self._judge(scope, path, headers)
            if refusal is not None:
                status, code, message = refusal
                log.info("request refused: %d %s", status, message)
                await _refuse(scope, path, status, code, message)(scope, receive, send)
                return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
        else:
            await self._read_bounded(scope, path, headers, receive, send)

    def _public(self, scope: Scope, path: str, headers: Headers) -> bool:
        if path in self.public_paths or path.startswith(self.public_prefixes):
            return True
        if path != GRAPHQL_PATH or scope["type"] != "http" or scope["method"] != "GET":
            return False
        return is_page_load("GET", QueryParams(scope["query_string"]), headers)

    def _judge(self, scope: Scope, path: str, headers: Headers) -> tuple[int, str, str] | None:
        """The refusal of a request that needs a role, or None (its role is then in scope)."""
        try:
            role = self.access.role_for(key_from_headers(headers))
        except Forbidden as exc:
            return 401, "UNAUTHENTICATED", str(exc)
        if role is None and scope["type"] == "http":
            return 401, "UNAUTHENTICATED", NEEDS_KEY
        api = path == API_PREFIX or path.startswith(API_PREFIX + "/")
        if api and scope["type"] == "http" and scope["method"] not in READS and role != ADMIN:
            return 403, "FORBIDDEN", "this needs an admin API key"
        scope.setdefault("state", {})[ROLE] = role
        return None

    async def _read_bounded(
        self, scope: Scope, path: str, headers: Headers, receive: Receive, send: Send
    ) -> None:
        declared = headers.get("content-length")
        uploads = path == GRAPHQL_PATH and headers.get("content-type", "").lower().startswith(
            "multipart/form-data"
        )
        limit = self.max_upload_size if uploads else self.max_body_size
        if declared is not None and declared.isdigit() and int(declared) > limit:
            message = _too_large(limit)
            log.info("request refused: 413 %s", message)
            await _refuse(scope, path, 413, "PAYLOAD_TOO_LARGE", message)(scope, receive, send)
            return
        intake = _Intake(receive, limit, self.body_timeout)
        started = False

        async def send_unless_cut(message: Message) -> None:
            nonlocal started
            if intake.refusal is not None:
                return  # the app answering a body we cut off: ours goes instead
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, intake.receive, send_unless_cut)
        except Exception:
            if intake.refusal is None:
                raise
        if intake.refusal is not None and not started:
            status, code, message = intake.refusal
            log.info("request refused: %d %s", status, message)
            await _refuse(scope, path, status, code, message)(scope, receive, send)


class _Intake:
    """A request's body as the app reads it: cut off (a disconnect, for the app) when it
    grows past the limit or stalls."""

    def __init__(self, receive: Receive, limit: int, timeout: float) -> None:
        self._receive = receive
        self.limit = limit
        self.timeout = timeout
        self.size = 0
        self.complete = False
        self.refusal: tuple[int, str, str] | None = None

    async def receive(self) -> Message:
        if self.refusal is not None:
            return {"type": "http.disconnect"}
        if self.complete:
            return await self._receive()  # after the body: waiting for a disconnect is fine
        try:
            async with asyncio.timeout(self.timeout):
                message = await self._receive()
        except TimeoutError:
            seconds = f"{self.timeout:g}"
            self.refusal = 408, "REQUEST_TIMEOUT", f"the body stalled for {seconds} s"
            return {"type": "http.disconnect"}
        if message["type"] == "http.request":
            self.size += len(message.get("body", b""))
            if self.size > self.limit:
                self.refusal = 413, "PAYLOAD_TOO_LARGE", _too_large(self.limit)
                return {"type": "http.disconnect"}
            self.complete = not message.get("more_body", False)
        return message


def _too_large(limit: int) -> str:
    return f"the body is over the limit of {limit:,} bytes"


def route_path(scope: Scope) -> str:
    """The path the router matches (without the root path a proxy mounts us under)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root + "/"):
        return path[len(root) :]
    return path


def _refuse(scope: Scope, path: str, status: int, code: str, message: str) -> ASGIApp:
    if scope["type"] == "websocket":
        return WebSocketClose(code=1008, reason=message)  # before accepting: a 403 handshake
    body: dict[str, Any]
    if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
        body = {"code": code, "message": message, "problems": []}  # the REST API's ErrorBody
    else:
        body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    headers = {"Connection": "close"} if status in (408, 413) else None
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


class HeaderTimeoutH11(H11Protocol):
    """uvicorn's h11 protocol, with a deadline for each request's headers: uvicorn arms its
    keep-alive timer only after a response, and stops it at the first byte received, so a
    client that connects and sends nothing, or a header a byte at a time, would hold a
    connection forever. `header_timeout` makes one with another deadline."""

    timeout_headers = 10.0
    _headers_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_headers_deadline()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm_headers_deadline()  # a request's headers arrived

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_headers_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_headers_deadline()
        super().connection_lost(exc)

    def _arm_headers_deadline(self) -> None:
        self._disarm_headers_deadline()
        self._headers_deadline = self.loop.call_later(self.timeout_headers, self._headers_late)

    def _disarm_headers_deadline(self) -> None:
        if self._headers_deadline is not None:
            self._headers_deadline.cancel()
            self._headers_deadline = None

    def _headers_late(self) -> None:
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.timeout_keep_alive_handler()


def header_timeout(seconds: float) -> type[HeaderTimeoutH11]:
    """The protocol class for uvicorn's `http=`, giving clients `seconds` to send headers."""

    class Protocol(HeaderTimeoutH11):
        timeout_headers = seconds

    return Protocol
