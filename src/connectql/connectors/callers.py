"""Calls made as the caller: the request headers a connector forwards (`source.forward_headers`).

A `Caller` holds the headers of one GraphQL request that connectors may read (never the one
that carried connectql's own API key). For each call, a connector's `Forwarding` picks the
headers that call's templates read into a `Forwarded`: their values for rendering, and an
`identity` (a keyed digest, never the values) that partitions every cache the call touches:
the ETag cache, and the auth strategies of schemes that read caller headers (an OAuth2 token
obtained for one caller is never used for another). A header a call reads that the caller did
not send (or sent empty) fails that call with UNAUTHENTICATED before anything is sent.

While a call runs, its forwarded values are known to the requester's `redact` (through
`calling_as`), so errors, traces and recorded fixtures never show them.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass

import orjson
from multidict import CIMultiDict, CIMultiDictProxy

from connectql.connectors.auth.base import AuthStrategy
from connectql.connectors.http import HttpRequest
from connectql.errors import AuthError
from connectql.spec.forwarding import headers_read
from connectql.spec.models import ConnectorSpec

MAX_CALLERS = 1024
"""Auth strategies kept per scheme, one per caller identity, least recently used dropped."""

_IDENTITY_KEY = secrets.token_bytes(32)
"""Keys the identity digest: an identity says nothing about the values it was made from."""


class Caller:
    """The headers of one GraphQL request that connectors may forward, by their allowlists."""

    def __init__(self, headers: Mapping[str, str] | None = None) -> None:
        self._headers: CIMultiDict[str] = CIMultiDict()
        self._picked: dict[tuple[str, ...], Forwarded] = {}
        """What calls of this request read, by header names: picked and digested once."""
        for name, value in (headers or {}).items():
            if isinstance(name, str) and isinstance(value, str):
                self._headers[name] = value

    @classmethod
    def of_request(
        cls,
        headers: Mapping[str, str],
        *,
        withheld: str | None = None,
        init_headers: object = None,
    ) -> Caller:
        """The caller of an HTTP request or a WebSocket connection: the request's headers
        less `withheld` (the header that carried connectql's API key), overlaid by the
        `headers` object of a WebSocket's `connection_init` payload (`init_headers`)."""
        found = {k: v for k, v in headers.items() if k.lower() != (withheld or "").lower()}
        if isinstance(init_headers, Mapping):
            for name, value in init_headers.items():
                if isinstance(name, str) and isinstance(value, str):
                    found = {k: v for k, v in found.items() if k.lower() != name.lower()}
                    found[name] = value
        return cls(found)

    def get(self, name: str) -> str | None:
        return self._headers.get(name)


@dataclass(frozen=True)
class Forwarded:
    """The caller's headers one call reads: values for its templates, and who it is for."""

    headers: CIMultiDictProxy[str]
    identity: str
    """A keyed digest of the values: the cache partition of this caller."""

    @classmethod
    def of(cls, values: Mapping[str, str]) -> Forwarded:
        pairs = sorted((k.lower(), v) for k, v in values.items())
        digest = hmac.new(_IDENTITY_KEY, orjson.dumps(pairs), hashlib.sha256).hexdigest()
        return cls(CIMultiDictProxy(CIMultiDict(pairs)), digest[:32])

    @property
    def namespace(self) -> dict[str, object]:
        """What `{request.…}` templates read: `{request.headers.NAME}`."""
        return {"headers": self.headers}

    def secrets(self) -> list[str]:
        return list(self.headers.values())


class Forwarding:
    """One connector's caller headers: which each operation reads, and picking them."""

    def __init__(self, spec: ConnectorSpec) -> None:
        self.connector = spec.name
        source = spec.source
        common = headers_read(source.headers)
        self.auth_reads: dict[str | None, frozenset[str]] = {
            None: headers_read(source.auth.model_dump(by_alias=True)),
            **{
                name: headers_read(scheme.model_dump(by_alias=True))
                for name, scheme in source.auth_schemes.items()
            },
        }
        """The caller headers each auth scheme reads (None: `source.auth`)."""
        self._reads: dict[str, frozenset[str]] = {}
        for name, op in spec.operations.items():
            reads = common | self.auth_reads.get(op.auth, frozenset())
            reads |= headers_read(op.request.model_dump())
            if op.batch is not None and op.batch.request is not None:
                reads |= headers_read(op.batch.request.model_dump())
            self._reads[name] = reads

    @property
    def active(self) -> bool:
        """Whether any call of this connector reads a caller header."""
        return any(self._reads.values())

    def select(self, op_name: str, caller: Caller | None) -> Forwarded | None:
        """The caller headers a call of `op_name` reads, or None when it reads none (it is
        then the same call for every caller). Raise AuthError if one is missing or empty."""
        names = self._reads.get(op_name)
        if not names:
            return None
        key = tuple(sorted(names))
        picked = caller._picked.get(key) if caller is not None else None
        if picked is not None:
            return picked
        values: dict[str, str] = {}
        for name in key:
            value = caller.get(name) if caller is not None else None
            if not value:
                raise AuthError(
                    f"connector {self.connector!r} calls the upstream as the caller: "
                    f"send the request header {name}",
                    connector=self.connector,
                    operation=op_name,
                )
            values[name] = value
        forwarded = Forwarded.of(values)
        if caller is not None:
            caller._picked[key] = forwarded
        return forwarded


class NeedsCaller(AuthStrategy):
    """The stand-in for a scheme that reads caller headers, used when a call has none: it
    refuses, so nothing is ever sent without the caller's credentials."""

    def __init__(self, connector: str) -> None:
        self._connector = connector

    async def apply(self, request: HttpRequest) -> None:
        raise AuthError(
            f"connector {self._connector!r} calls the upstream as the caller, and this call "
            "carries no caller headers",
            connector=self._connector,
        )


class CallerAuth:
    """The strategies of one auth scheme that reads caller headers: one per caller identity,
    so a token obtained (or refreshed) for one caller is never sent for another."""

    def __init__(
        self, build: Callable[[Forwarded], AuthStrategy], max_callers: int = MAX_CALLERS
    ) -> None:
        self._build = build
        self._max = max_callers
        self._strategies: OrderedDict[str, AuthStrategy] = OrderedDict()

    def for_caller(self, forwarded: Forwarded) -> AuthStrategy:
        strategy = self._strategies.get(forwarded.identity)
        if strategy is None:
            strategy = self._build(forwarded)
            self._strategies[forwarded.identity] = strategy
            while len(self._strategies) > self._max:
                self._strategies.popitem(last=False)
        self._strategies.move_to_end(forwarded.identity)
        return strategy

    def held(self, forwarded: Forwarded) -> AuthStrategy | None:
        """The strategy of this caller, if one was built."""
        return self._strategies.get(forwarded.identity)

    def __len__(self) -> int:
        return len(self._strategies)


_CALL: ContextVar[Forwarded | None] = ContextVar("connectql_forwarded", default=None)


@contextlib.contextmanager
def calling_as(forwarded: Forwarded | None) -> Iterator[None]:
    """Within: the current call is made for `forwarded` (its values are redacted, and an
    operation hook's `Connector.call` is made as the same caller)."""
    token = _CALL.set(forwarded)
    try:
        yield
    finally:
        _CALL.reset(token)


def current_call() -> Forwarded | None:
    """The caller headers of the call running in this task, if any."""
    return _CALL.get()
