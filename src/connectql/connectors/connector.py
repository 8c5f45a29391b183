"""One running connector: a spec plus its config, turned into upstream calls.

A Connector owns a lazily created, pooled aiohttp session (closed on stop, reset in tests)
and its metrics, and composes the roles a call passes through, a module each: the requester
(templates, auth, request building), the exchange (attempts, retries, quota, breaker, rate
limit), the error handler (status and body → result or error), the record selector (decode,
select, filter, shape) and the operation's paginator. Resolvers call `execute`,
`fetch_page` and `fetch_batch`, passing the request's `caller` (connectors/callers.py: the
headers a connector with `source.forward_headers` sends as the caller); operation hooks call
`call`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver

from connectql.connectors.auth import AuthHooks, AuthStrategy
from connectql.connectors.breaker import CircuitBreaker
from connectql.connectors.callers import Caller, Forwarded, calling_as, current_call
from connectql.connectors.clock import Clock, SystemClock
from connectql.connectors.egress import EgressConnector, PolicyResolver
from connectql.connectors.error_handler import ErrorHandler
from connectql.connectors.exchange import Exchange, Recorder
from connectql.connectors.http import HttpRequest, HttpResponse
from connectql.connectors.metrics import ConnectorMetrics
from connectql.connectors.pagination import PageState, Paginator, build_paginator
from connectql.connectors.ratelimit import TokenBucket
from connectql.connectors.record_selector import RecordSelector
from connectql.connectors.requester import Requester
from connectql.errors import ConfigError, ConnectorError
from connectql.spec.models import ConnectorSpec, Operation, RequestSpec
from connectql.spec.templates import parse_template, render_value, to_text


def resolve_config(
    spec: ConnectorSpec, values: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Check `values` against the spec's `config` keys: defaults, required keys, types.

    A key left unset takes the first of its `env` variables set in `environ` (None: the
    environment is not read), else its default; text defaults may name other keys."""
    unknown = sorted(set(values) - set(spec.config))
    if unknown:
        raise ConfigError(
            f"connector {spec.name!r}: unknown config key(s) {', '.join(unknown)}; "
            f"declared: {', '.join(sorted(spec.config)) or 'none'}"
        )
    out: dict[str, Any] = {}
    templated: list[str] = []
    for key, decl in spec.config.items():
        value = values.get(key)
        if (value is None or value == "") and environ is not None:
            value = next((environ[n] for n in decl.env if environ.get(n)), None)
        if value is None or value == "":
            value = decl.default
            if isinstance(value, str) and "{" in value:
                templated.append(key)
        if value is None or value == "":
            if decl.required:
                raise ConfigError(f"connector {spec.name!r}: config key {key!r} is required")
            out[key] = None
            continue
        try:
            out[key] = _coerce(value, decl.type)
        except (TypeError, ValueError):
            shown = "a secret value" if decl.secret else repr(value)
            raise ConfigError(
                f"connector {spec.name!r}: config key {key!r} must be a {decl.type}, got {shown}"
            ) from None
    for key in templated:  # defaults naming other keys, once those are known
        out[key] = to_text(parse_template(str(out[key])).render({"config": out}))
    return out


def _coerce(value: Any, kind: str) -> Any:
    if kind == "string":
        return str(value)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "1", "yes"):
            return True
        if str(value).lower() in ("false", "0", "no"):
            return False
        raise ValueError(value)
    if kind == "integer":
        if isinstance(value, bool):
            raise TypeError(value)
        return int(value)
    return float(value)


POOL_PER_HOST = 64
"""Connections kept open to each upstream host, unless the spec lets more calls run at once."""
DNS_TTL = 300
"""Seconds a resolved upstream address is reused."""


def pool_per_host(spec: ConnectorSpec) -> int:
    """Connections per upstream host: as many as calls the spec lets run at once (a rate
    limit's burst, a fan-out batch's concurrency), and at least POOL_PER_HOST."""
    burst = spec.source.rate_limit.burst if spec.source.rate_limit else 0
    fan_out = [
        op.batch.max_concurrency
        for op in spec.operations.values()
        if op.batch is not None and op.batch.mode == "fan_out"
    ]
    return max(POOL_PER_HOST, burst, *fan_out)


Observer = Callable[["Connector", str | None, ConnectorError | None], None]
"""Told of each call (the operation, and its failure or None) and of each breaker change
(None, None)."""


@dataclass(frozen=True)
class Page:
    records: list[Any]
    next_state: PageState | None


class Connector:
    def __init__(
        self,
        spec: ConnectorSpec,
        config: Mapping[str, Any] | None = None,
        *,
        clock: Clock | None = None,
        hooks: AuthHooks | None = None,
        session_factory: Callable[[], aiohttp.ClientSession] | None = None,
        rng: random.Random | None = None,
        resolver: AbstractResolver | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """`resolver` replaces DNS resolution; a `PolicyResolver` (connectors created at run
        time) also puts every connection under its egress policy. `environ`: where config
        keys with `env` are read from (None: nowhere)."""
        self._resolver = resolver
        self.spec = spec
        self.name = spec.name
        self.config = resolve_config(spec, config or {}, environ)
        self.clock: Clock = clock or SystemClock()
        self.metrics = ConnectorMetrics()
        self._hooks = hooks or AuthHooks()
        self._session_factory = session_factory or self._default_session
        self._session: aiohttp.ClientSession | None = None
        self.observers: list[Observer] = []
        """Called after every call (operation, error code or None) and on every breaker
        change (operation None): the health monitor and usage counters listen here."""
        self.requester = Requester(
            spec,
            self.config,
            clock=self.clock,
            hooks=self._hooks,
            # auth's token requests go out raw through the exchange, built next
            send=lambda request: self.exchange.send_raw(request),
        )
        self.exchange = Exchange(
            spec,
            self.requester,
            ErrorHandler(spec, self.clock, self.requester.redact),
            session=lambda: self.session,
            clock=self.clock,
            metrics=self.metrics,
            rng=rng or random.Random(),
            notify=self._notify,
        )
        self.record_selector = RecordSelector(spec, self.metrics)
        self._paginators: dict[str, Paginator | None] = {
            name: build_paginator(op.pagination) if op.pagination else None
            for name, op in spec.operations.items()
        }
        for op in spec.operations.values():
            for hook in (op.hook, op.batch.hook if op.batch else None):
                if hook is not None:
                    self._hooks.operation(hook)  # a spec naming a missing hook fails here
        self.state = "stopped"

    # --- the roles' state, as the rest of connectql reads it -----------------------------

    @property
    def base_url(self) -> str:
        return self.requester.base_url

    @property
    def auth(self) -> AuthStrategy:
        return self.requester.auth

    @property
    def auth_schemes(self) -> dict[str, AuthStrategy]:
        """The named alternatives to `auth`, for operations that choose one."""
        return self.requester.auth_schemes

    @property
    def breaker(self) -> CircuitBreaker | None:
        return self.exchange.breaker

    @property
    def limiter(self) -> TokenBucket | None:
        return self.exchange.limiter

    @property
    def in_flight(self) -> int:
        return self.exchange.in_flight

    @property
    def recorder(self) -> Recorder | None:
        """Sees every exchange as sent (credentials included): `connectql test --record`."""
        return self.exchange.recorder

    @recorder.setter
    def recorder(self, recorder: Recorder | None) -> None:
        self.exchange.recorder = recorder

    def _notify(self, op_name: str | None, error: ConnectorError | None) -> None:
        """The exchange's report of a call or a breaker change, passed to the observers."""
        for observer in self.observers:
            observer(self, op_name, error)

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        self.state = "running"

    async def stop(self) -> None:
        self.state = "stopped"
        await self.reset_session()

    async def retire(self, grace: float = 60.0) -> None:
        """Stop once the calls in flight (from requests on an older schema) have ended."""
        await self.exchange.drained(grace)
        await self.stop()

    async def reset_session(self) -> None:
        """Close the pooled session; the next call opens a fresh one."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        """The connector's pooled session, created on first use."""
        if self._session is None or self._session.closed:
            self._session = self._session_factory()
        return self._session

    def _default_session(self) -> aiohttp.ClientSession:
        timeouts = self.spec.source.timeouts
        per_host = pool_per_host(self.spec)
        hosts = len(self.exchange.allowed_hosts)
        pool: dict[str, Any] = {
            "limit": per_host * max(hosts, 1),
            "limit_per_host": per_host,
            "ttl_dns_cache": DNS_TTL,
        }
        # A policy's resolver alone would miss IP literals: its connector checks every socket.
        tcp = (
            EgressConnector(self._resolver.policy, resolver=self._resolver, **pool)
            if isinstance(self._resolver, PolicyResolver)
            else aiohttp.TCPConnector(resolver=self._resolver, **pool)
        )
        return aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=timeouts.total, sock_connect=timeouts.connect),
            connector=tcp,
            raise_for_status=False,
            # no cookie jar: a cookie an upstream sets for one caller's call would ride on
            # every later caller's (and filtering the jar cost each call a few microseconds)
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    # --- secrets -----------------------------------------------------------------------

    def secrets(self) -> set[str]:
        return self.requester.secrets()

    def auth_for(self, op: Operation) -> AuthStrategy:
        """How `op` authenticates: its own scheme (`auth: NAME`), else `source.auth`."""
        return self.requester.auth_for(op)

    def redact(self, text: str) -> str:
        return self.requester.redact(text)

    # --- calls -------------------------------------------------------------------------

    def operation(self, name: str) -> Operation:
        return self.spec.operations[name]

    def paginator(self, name: str) -> Paginator | None:
        return self._paginators[name]

    def build_request(
        self,
        op_name: str,
        spec: RequestSpec,
        scope: Mapping[str, Any],
        *,
        list_join: str | None = ",",
        forwarded: Forwarded | None = None,
    ) -> HttpRequest:
        """The request for `spec` rendered with `scope` (see `Requester.build_request`)."""
        return self.requester.build_request(
            op_name, spec, scope, list_join=list_join, forwarded=forwarded
        )

    async def execute(
        self, op_name: str, args: Mapping[str, Any], *, caller: Caller | None = None
    ) -> Any:
        """Call a non-paginated operation once; return its shaped result. `caller`: the
        request's headers, for a connector that forwards some (`source.forward_headers`)."""
        op = self.spec.operations[op_name]
        forwarded = self.requester.forwarding.select(op_name, caller)
        if op.hook is not None:
            with calling_as(forwarded):  # the hook's `call`s are made as the same caller
                return await self._hooks.operation(op.hook)(self, op_name, dict(args))
        request = self.build_request(op_name, op.request, {"args": args}, forwarded=forwarded)
        outcome = await self.exchange.send(op_name, op, request, forwarded=forwarded)
        if not isinstance(outcome, HttpResponse):
            return outcome.value
        body = self.record_selector.decode(op_name, op, outcome)
        body = self.record_selector.with_headers(op, outcome, body)
        return self.record_selector.shape(op, body)

    async def call(
        self,
        op_name: str,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        form: Mapping[str, Any] | None = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """One upstream call for an operation hook: auth, limits, retries, breaker and error
        mapping as for any call. `url` is a path under base_url or a full URL on an allowed
        host. Returns the parsed body (None for an empty one). Inside `execute`, the call is
        made as the caller `execute` was given."""
        op = self.spec.operations[op_name]
        forwarded = current_call()
        if forwarded is None:
            forwarded = self.requester.forwarding.select(op_name, None)
        request = self.requester.build_call(
            op,
            method,
            url,
            params=params,
            json=json,
            form=form,
            data=data,
            headers=headers,
            forwarded=forwarded,
        )
        outcome = await self.exchange.send(
            op_name, op, request, retries_allowed=op.retries_allowed, forwarded=forwarded
        )
        if not isinstance(outcome, HttpResponse):
            return outcome.value
        return self.record_selector.decode(op_name, op, outcome)

    async def fetch_page(
        self,
        op_name: str,
        args: Mapping[str, Any],
        state: PageState,
        limit: int,
        *,
        caller: Caller | None = None,
    ) -> Page:
        """Fetch one upstream page of a paginated operation."""
        op = self.spec.operations[op_name]
        paginator = self._paginators[op_name]
        assert paginator is not None, f"{op_name} is not paginated"
        forwarded = self.requester.forwarding.select(op_name, caller)
        request = self.build_request(op_name, op.request, {"args": args}, forwarded=forwarded)
        if op.response.filter:  # filtered pages shrink: ask for whole pages
            limit = max(limit, getattr(op.pagination, "page_size", limit))
        paginator.prepare(state, request, limit)
        outcome = await self.exchange.send(op_name, op, request, forwarded=forwarded)
        if not isinstance(outcome, HttpResponse):
            return Page(list(outcome.value or []), None)
        body = self.record_selector.decode(op_name, op, outcome)
        selected = self.record_selector.selected(op, body)
        # where the list ends depends on what the upstream sent, not on what the filter kept
        next_state = paginator.next(state, outcome, body, selected)
        return Page(self.record_selector.filter(op, selected), next_state)

    async def fetch_records(
        self, op_name: str, args: Mapping[str, Any], limit: int, *, caller: Caller | None = None
    ) -> list[Any]:
        """Up to `limit` records of a paginated operation, page after page."""
        paginator = self._paginators[op_name]
        assert paginator is not None, f"{op_name} is not paginated"
        records: list[Any] = []
        state: PageState | None = paginator.first(limit)
        while state is not None and len(records) < limit:
            page = await self.fetch_page(op_name, args, state, limit - len(records), caller=caller)
            records.extend(page.records)
            state = page.next_state
        return records[:limit]

    async def fetch_batch(
        self,
        op_name: str,
        keys: Sequence[Any],
        args: Mapping[str, Any] | None = None,
        *,
        caller: Caller | None = None,
    ) -> list[Any]:
        """Fetch many items of an operation with a `batch` section, in key order.

        Each entry is the item, None when the upstream has no such key, or the exception
        that failed it (the dataloader turns that into an error for that key only).
        """
        op = self.spec.operations[op_name]
        batch = op.batch
        assert batch is not None, f"{op_name} has no batch section"
        if batch.mode == "fan_out":
            semaphore = asyncio.Semaphore(batch.max_concurrency)

            async def one(key: Any) -> Any:
                async with semaphore:
                    try:
                        key_args = {**(args or {}), batch.key: key}
                        return await self.execute(op_name, key_args, caller=caller)
                    except ConnectorError as exc:
                        return exc

            return list(await asyncio.gather(*(one(k) for k in keys)))
        results: list[Any] = []
        for start in range(0, len(keys), batch.max_batch):
            chunk = list(keys[start : start + batch.max_batch])
            try:
                if batch.hook is not None:
                    with calling_as(self.requester.forwarding.select(op_name, caller)):
                        hook = self._hooks.operation(batch.hook)
                        found = await hook(self, op_name, {**(args or {}), "keys": chunk})
                else:
                    found = await self._request_batch(op_name, op, chunk, args or {}, caller)
                results.extend(found)
            except ConnectorError as exc:
                results.extend([exc] * len(chunk))
        return results

    async def _request_batch(
        self,
        op_name: str,
        op: Operation,
        keys: list[Any],
        args: Mapping[str, Any],
        caller: Caller | None = None,
    ) -> list[Any]:
        batch = op.batch
        assert batch is not None
        assert batch.request is not None
        forwarded = self.requester.forwarding.select(op_name, caller)
        sent: list[Any] = keys
        if batch.each is not None:  # one object per key, e.g. {"content": {"text": "{key}"}}
            scope = self.requester.scope({"args": args}, forwarded)
            sent = [render_value(batch.each, {**scope, "key": key}) for key in keys]
        request = self.build_request(
            op_name,
            batch.request,
            {"args": args, "keys": sent},
            list_join=batch.join,
            forwarded=forwarded,
        )
        outcome = await self.exchange.send(
            op_name, op, request, retries_allowed=True, forwarded=forwarded
        )
        if not isinstance(outcome, HttpResponse):
            return [None] * len(keys)
        body = self.record_selector.decode(op_name, op, outcome)
        return self.record_selector.batch_items(op, keys, body)
