"""The runtime's HTTP layer: one request/response shape, and aiohttp errors translated here.

Nothing above this module sees an aiohttp type or exception: `send` maps them into the
project's error tree (`raise … from exc`) and messages never carry the URL, which may hold
credentials.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

from connectql.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable


@dataclass
class HttpRequest:
    method: str
    url: str
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: CIMultiDict[str] = field(default_factory=CIMultiDict)
    body: bytes | None = None
    timeout: float | None = None
    """Total seconds for this request; None uses the session's timeout."""

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    url: str

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()


Send = Callable[[HttpRequest], Awaitable[HttpResponse]]
"""A function that performs one HTTP exchange with no auth, retry or limits of its own."""


async def send(
    session: aiohttp.ClientSession,
    request: HttpRequest,
    *,
    connector: str | None = None,
    operation: str | None = None,
) -> HttpResponse:
    """Perform `request` on `session`, reading the whole body."""
    timeout = aiohttp.ClientTimeout(total=request.timeout) if request.timeout else None
    try:
        async with session.request(
            request.method,
            request.url,
            params=request.params or None,
            headers=request.headers,
            data=request.body,
            timeout=timeout if timeout is not None else aiohttp.helpers.sentinel,
            allow_redirects=False,
        ) as resp:
            body = await resp.read()
            return HttpResponse(resp.status, resp.headers, body, str(resp.url))
    except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
        raise UpstreamTimeout(
            "the upstream did not answer in time", connector=connector, operation=operation
        ) from exc
    except (
        aiohttp.ClientConnectionError,
        aiohttp.ClientPayloadError,
        ConnectionResetError,
    ) as exc:
        raise UpstreamUnavailable(
            f"could not reach the upstream ({type(exc).__name__})",
            connector=connector,
            operation=operation,
        ) from exc
    except aiohttp.ClientError as exc:
        raise UpstreamError(
            f"HTTP client error ({type(exc).__name__})", connector=connector, operation=operation
        ) from exc
