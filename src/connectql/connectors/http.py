"""The runtime's HTTP layer: one request/response shape, and aiohttp errors translated here.

Nothing above this module sees an aiohttp type or exception: `send` maps them into the
project's error tree (`raise … from exc`) and messages never carry the URL, which may hold
credentials. Bodies are streamed and cut off at a limit, counted after decompression, so an
endless body or a gzip bomb costs at most that much memory.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from connectql.connectors.styles import encode_query
from connectql.errors import (
    BadResponse,
    Forbidden,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from connectql.spec.models import DEFAULT_MAX_BODY_BYTES


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
    max_body: int = DEFAULT_MAX_BODY_BYTES,
) -> HttpResponse:
    """Perform `request` on `session`, reading the whole body (at most `max_body` bytes)."""
    try:
        async with session.request(
            request.method,
            _target(request),
            headers=request.headers,
            data=request.body,
            # no body, no type: aiohttp would call an empty POST application/octet-stream
            skip_auto_headers=(
                NO_CONTENT_TYPE if request.body is None and request.method in WITH_BODY else None
            ),
            timeout=(
                _timeout(request.timeout, session.timeout.sock_connect)
                if request.timeout
                else aiohttp.helpers.sentinel
            ),
            allow_redirects=False,
        ) as resp:
            body = await _read(resp, max_body)
            if body is None:
                raise BadResponse(
                    f"the upstream's answer is larger than {_size(max_body)} "
                    "(source.max_body_bytes)",
                    connector=connector,
                    operation=operation,
                    status=resp.status,
                )
            return HttpResponse(resp.status, resp.headers, body, str(resp.url))
    except Forbidden as exc:  # the egress policy refused to connect: no retry will help
        raise UpstreamUnavailable(
            str(exc),
            connector=connector,
            operation=operation,
            code=Forbidden.code,
            retryable=False,
        ) from exc
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


NO_CONTENT_TYPE = frozenset({"Content-Type"})
WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
"""The methods aiohttp gives a Content-Type of its own when they have no body."""
ENCODED_URL = re.compile(r"(?:[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=-]|%[0-9A-Fa-f]{2})*")
"""A URL that is already percent-encoded throughout (RFC 3986's characters only)."""


@lru_cache(maxsize=64)
def _timeout(total: float, connect: float | None) -> aiohttp.ClientTimeout:
    """A request's own total time, with the session's connect timeout: one object per value
    (a spec has a few), not one per request."""
    return aiohttp.ClientTimeout(total=total, sock_connect=connect)


def _target(request: HttpRequest) -> URL:
    """The URL to send: an encoded one exactly as it is (yarl would decode `%2C`, `%26`…
    in the path, and so mix up a value's characters with a parameter style's delimiters),
    another as yarl encodes it; the query from `params` written by `encode_query`."""
    try:
        text = request.url
        encoded = ENCODED_URL.fullmatch(text) is not None
        if request.params and encoded and "?" not in text and "#" not in text:
            return URL(f"{text}?{encode_query(request.params)}", encoded=True)
        url = URL(text, encoded=True) if encoded else URL(text)
        if not request.params:
            return url
        query = encode_query(request.params)
        if url.raw_query_string:
            query = f"{url.raw_query_string}&{query}"
        return URL(f"{url.with_query(None).with_fragment(None)}?{query}", encoded=True)
    except ValueError as exc:  # as aiohttp reports a URL it cannot parse
        raise aiohttp.InvalidURL(request.url) from exc


async def _read(resp: aiohttp.ClientResponse, limit: int) -> bytes | None:
    """The (decompressed) body, or None as soon as it grows past `limit` bytes; leaving the
    rest unread makes aiohttp close the connection instead of reusing it."""
    length = resp.content_length
    if (
        length is not None
        and length <= limit
        and "Content-Encoding" not in resp.headers
        and "Transfer-Encoding" not in resp.headers
    ):
        return await resp.read()  # a body of known size, as it came: no larger than that
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_any():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} bytes"
