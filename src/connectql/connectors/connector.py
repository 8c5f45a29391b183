"""One running connector: a spec plus its config, turned into upstream calls.

A Connector owns a lazily created, pooled aiohttp session (closed on stop, reset in tests),
its auth strategy, rate limiter, circuit breaker and metrics. Resolvers call `execute`,
`fetch_page` and `fetch_batch`; every upstream exchange goes through `_exchange`, the one
place where host checks, limits, auth, retries and the breaker apply.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import orjson
from aiohttp.abc import AbstractResolver
from multidict import CIMultiDict

from connectql.connectors.auth import AuthContext, AuthHooks, AuthStrategy, build_auth
from connectql.connectors.breaker import CircuitBreaker
from connectql.connectors.cache import ETagCache
from connectql.connectors.clock import Clock, SystemClock
from connectql.connectors.codecs import (
    FORM_TYPE,
    JSON_TYPE,
    XML_TYPE,
    decode_body,
    encode_body,
)
from connectql.connectors.egress import EgressConnector, PolicyResolver
from connectql.connectors.files import BinaryBody, filename_from_disposition
from connectql.connectors.http import HttpRequest, HttpResponse, send
from connectql.connectors.metrics import ConnectorMetrics
from connectql.connectors.pagination import PageState, Paginator, build_paginator
from connectql.connectors.ratelimit import TokenBucket
from connectql.connectors.retry import delay_for, retry_after_from
from connectql.connectors.styles import header_text, path_text, query_pairs
from connectql.connectors.trace import TraceEntry, record
from connectql.errors import (
    AuthError,
    ConfigError,
    ConnectorError,
    RateLimited,
    UpstreamError,
)
from connectql.spec.models import (
    ArgSpec,
    BodyMatch,
    ConnectorSpec,
    CustomError,
    ErrorAction,
    ObjectType,
    Operation,
    RateLimit,
    RequestSpec,
)
from connectql.spec.paths import Path, parse_path
from connectql.spec.templates import (
    Placeholder,
    lone_placeholder,
    parse_template,
    placeholder_arg,
    render_value,
    to_text,
)
from connectql.spec.typeref import BINARY, parse_type_ref

log = logging.getLogger("connectql.connector")

NO_BODY_STATUSES = frozenset({204, 205, 304})
DEFAULT_RATE_LIMIT = RateLimit(requests_per_second=1e9)
"""Only its max_wait matters: how long a call may wait for an exhausted quota to reset."""
MAX_UPSTREAM_MESSAGE = 500
"""Longest upstream error message passed on (a spec opts in with `message_path`)."""


@lru_cache(maxsize=4096)
def _path(text: str) -> Path:
    return parse_path(text)


def resolve_config(spec: ConnectorSpec, values: Mapping[str, Any]) -> dict[str, Any]:
    """Check `values` against the spec's `config` keys: defaults, required keys, types."""
    unknown = sorted(set(values) - set(spec.config))
    if unknown:
        raise ConfigError(
            f"connector {spec.name!r}: unknown config key(s) {', '.join(unknown)}; "
            f"declared: {', '.join(sorted(spec.config)) or 'none'}"
        )
    out: dict[str, Any] = {}
    for key, decl in spec.config.items():
        value = values.get(key, decl.default)
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


Observer = Callable[["Connector", str | None, str | None], None]


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
    ) -> None:
        """`resolver` replaces DNS resolution; a `PolicyResolver` (connectors created at run
        time) also puts every connection under its egress policy."""
        self._resolver = resolver
        self.spec = spec
        self.name = spec.name
        self.config = resolve_config(spec, config or {})
        self.clock: Clock = clock or SystemClock()
        self.metrics = ConnectorMetrics()
        self._hooks = hooks or AuthHooks()
        self._session_factory = session_factory or self._default_session
        self._session: aiohttp.ClientSession | None = None
        self._rng = rng or random.Random()
        self._scope_config = {"config": self.config}
        self.base_url = str(parse_template(spec.source.base_url).render(self._scope_config)).rstrip(
            "/"
        )
        if not urlsplit(self.base_url).scheme.startswith("http"):
            raise ConfigError(f"connector {self.name!r}: base_url must be an http(s) URL")
        self._allowed_hosts = frozenset([urlsplit(self.base_url).netloc, *spec.source.allow_hosts])
        rendered = {
            k: parse_template(v).render(self._scope_config) for k, v in spec.source.headers.items()
        }
        # a header whose value renders empty (an optional config key) is not sent
        self._headers = {k: to_text(v) for k, v in rendered.items() if v not in (None, "")}
        self._cache = ETagCache(spec.source.cache.max_entries) if spec.source.cache else None
        self._quota_reset_at = 0.0
        self.breaker = (
            CircuitBreaker(spec.source.circuit_breaker, self.clock, self._on_breaker_change)
            if spec.source.circuit_breaker
            else None
        )
        rate = spec.source.rate_limit
        self.limiter = (
            TokenBucket(rate.requests_per_second, rate.burst, self.clock) if rate else None
        )
        self._max_wait = (rate or DEFAULT_RATE_LIMIT).max_wait
        self._paginators: dict[str, Paginator | None] = {
            name: build_paginator(op.pagination) if op.pagination else None
            for name, op in spec.operations.items()
        }
        auth_context = AuthContext(
            connector=self.name,
            render=lambda text: parse_template(text).render(self._scope_config),
            send=self._send_raw,
            clock=self.clock,
        )
        self.auth: AuthStrategy = build_auth(spec.source.auth, auth_context, self._hooks)
        self.auth_schemes: dict[str, AuthStrategy] = {
            name: build_auth(scheme, auth_context, self._hooks)
            for name, scheme in spec.source.auth_schemes.items()
        }
        """The named alternatives to `auth`, for operations that choose one."""
        for op in spec.operations.values():
            if op.hook is not None:
                self._hooks.operation(op.hook)  # a spec naming a missing hook fails here
        self.state = "stopped"
        self.recorder: Callable[[HttpRequest, HttpResponse], None] | None = None
        """Sees every exchange as sent (credentials included): `connectql test --record`."""
        self.observers: list[Observer] = []
        """Called after every call (operation, error code or None) and on every breaker
        change (operation None): the health monitor and usage counters listen here."""
        self.in_flight = 0
        self._idle = asyncio.Event()

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        self.state = "running"

    async def stop(self) -> None:
        self.state = "stopped"
        await self.reset_session()

    async def retire(self, grace: float = 60.0) -> None:
        """Stop once the calls in flight (from requests on an older schema) have ended."""
        if self.in_flight:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), grace)
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
        pool: dict[str, Any] = {"limit": 100, "limit_per_host": 50, "ttl_dns_cache": 300}
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
        )

    # --- secrets -----------------------------------------------------------------------

    def secrets(self) -> set[str]:
        values = {str(self.config[k]) for k in self.spec.secret_keys() if self.config.get(k)}
        for strategy in (self.auth, *self.auth_schemes.values()):
            values.update(s for s in strategy.secrets() if s)
        return values

    def auth_for(self, op: Operation) -> AuthStrategy:
        """How `op` authenticates: its own scheme (`auth: NAME`), else `source.auth`."""
        return self.auth if op.auth is None else self.auth_schemes[op.auth]

    def redact(self, text: str) -> str:
        for secret in sorted(self.secrets(), key=len, reverse=True):
            if len(secret) >= 4:
                text = text.replace(secret, "[redacted]")
        return text

    # --- calls -------------------------------------------------------------------------

    def operation(self, name: str) -> Operation:
        return self.spec.operations[name]

    def paginator(self, name: str) -> Paginator | None:
        return self._paginators[name]

    async def execute(self, op_name: str, args: Mapping[str, Any]) -> Any:
        """Call a non-paginated operation once; return its shaped result."""
        op = self.spec.operations[op_name]
        if op.hook is not None:
            return await self._hooks.operation(op.hook)(self, op_name, dict(args))
        request = self.build_request(op_name, op.request, {"args": args})
        outcome = await self._exchange(op_name, op, request)
        if not isinstance(outcome, HttpResponse):
            return outcome.value
        body = self._decode(op_name, op, outcome)
        return self._shape(op, body)

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
        host. Returns the parsed body (None for an empty one)."""
        op = self.spec.operations[op_name]
        full = url if url.startswith(("http://", "https://")) else self.base_url + url
        request = HttpRequest(
            method,
            full,
            [(k, to_text(v)) for k, v in (params or {}).items() if v is not None],
            CIMultiDict({**self._headers, **(headers or {})}),
            None,
            op.timeout or self.spec.source.timeouts.total,
        )
        if "Accept" not in request.headers and (accept := _accept(op)):
            request.headers["Accept"] = accept
        if json is not None or form is not None:
            fmt, value = ("json", json) if json is not None else ("form", form)
            request.body, content_type = encode_body(value, fmt)
            request.headers["Content-Type"] = content_type
        elif data is not None:
            request.body = data
            request.headers.setdefault("Content-Type", "application/octet-stream")
        outcome = await self._exchange(op_name, op, request, retries_allowed=op.retries_allowed)
        if not isinstance(outcome, HttpResponse):
            return outcome.value
        return self._decode(op_name, op, outcome)

    async def fetch_page(
        self, op_name: str, args: Mapping[str, Any], state: PageState, limit: int
    ) -> Page:
        """Fetch one upstream page of a paginated operation."""
        op = self.spec.operations[op_name]
        paginator = self._paginators[op_name]
        assert paginator is not None, f"{op_name} is not paginated"
        request = self.build_request(op_name, op.request, {"args": args})
        if op.response.filter:  # filtered pages shrink: ask for whole pages
            limit = max(limit, getattr(op.pagination, "page_size", limit))
        paginator.prepare(state, request, limit)
        outcome = await self._exchange(op_name, op, request)
        if not isinstance(outcome, HttpResponse):
            return Page(list(outcome.value or []), None)
        body = self._decode(op_name, op, outcome)
        selected = self._selected(op, body)
        # where the list ends depends on what the upstream sent, not on what the filter kept
        next_state = paginator.next(state, outcome, body, selected)
        return Page(self._filter(op, selected), next_state)

    async def fetch_records(self, op_name: str, args: Mapping[str, Any], limit: int) -> list[Any]:
        """Up to `limit` records of a paginated operation, page after page."""
        paginator = self._paginators[op_name]
        assert paginator is not None, f"{op_name} is not paginated"
        records: list[Any] = []
        state: PageState | None = paginator.first(limit)
        while state is not None and len(records) < limit:
            page = await self.fetch_page(op_name, args, state, limit - len(records))
            records.extend(page.records)
            state = page.next_state
        return records[:limit]

    async def fetch_batch(
        self, op_name: str, keys: Sequence[Any], args: Mapping[str, Any] | None = None
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
                        return await self.execute(op_name, {**(args or {}), batch.key: key})
                    except ConnectorError as exc:
                        return exc

            return list(await asyncio.gather(*(one(k) for k in keys)))
        results: list[Any] = []
        for start in range(0, len(keys), batch.max_batch):
            chunk = list(keys[start : start + batch.max_batch])
            try:
                results.extend(await self._request_batch(op_name, op, chunk, args or {}))
            except ConnectorError as exc:
                results.extend([exc] * len(chunk))
        return results

    async def _request_batch(
        self, op_name: str, op: Operation, keys: list[Any], args: Mapping[str, Any]
    ) -> list[Any]:
        batch = op.batch
        assert batch is not None
        assert batch.request is not None
        request = self.build_request(
            op_name, batch.request, {"args": args, "keys": keys}, list_join=batch.join
        )
        outcome = await self._exchange(op_name, op, request, retries_allowed=True)
        if not isinstance(outcome, HttpResponse):
            return [None] * len(keys)
        body = self._decode(op_name, op, outcome)
        records = _path(batch.records or ".").get(body)
        if not isinstance(records, list):
            records = [] if records is None else [records]
        if batch.match_on is None:  # the upstream answers in request order
            return [records[i] if i < len(records) else None for i in range(len(keys))]
        match_path = self._match_path(op, batch.match_on)
        found = {str(match_path.get(r)): r for r in records}
        return [found.get(str(k)) for k in keys]

    def _match_path(self, op: Operation, field: str) -> Path:
        type_spec = self.spec.types.get(parse_type_ref(op.response.type).base)
        if isinstance(type_spec, ObjectType) and field in type_spec.fields:
            return _path(type_spec.fields[field].from_ or field)
        return _path(field)

    # --- request building --------------------------------------------------------------

    def build_request(
        self,
        op_name: str,
        spec: RequestSpec,
        scope: Mapping[str, Any],
        *,
        list_join: str | None = ",",
    ) -> HttpRequest:
        """Render a request template; path values are percent-encoded, code never runs.
        An argument used whole is written in its OpenAPI `style` (connectors/styles.py);
        `{keys}` lists are joined by `list_join` (repeated when None)."""
        full = {**self._scope_config, **scope}
        op = self.spec.operations.get(op_name)
        args = op.args if op is not None else {}
        join = list_join or ","
        segments: list[str] = []
        for part in parse_template(spec.path).parts:
            if isinstance(part, str):
                segments.append(part)
                continue
            filled = _path_part(part, full, args, join)
            if not filled:  # `/users//repos` reaches another resource, or none
                raise ConnectorError(
                    f"{part.text} is empty, and it fills a path segment",
                    connector=self.name,
                    operation=op_name,
                    code="BAD_USER_INPUT",
                )
            segments.append(filled)
        path = "".join(segments)
        params: list[tuple[str, str]] = []
        for name, raw in spec.query.items():
            value = render_value(raw, full)
            lone = lone_placeholder(raw)
            if lone is not None and lone.namespace == "keys" and isinstance(value, list):
                if list_join is None:
                    params.extend((name, to_text(v, ",")) for v in value)
                else:
                    params.append((name, to_text(value, list_join)))
                continue
            arg = args.get(placeholder_arg(lone) or "")
            style = arg.style if arg is not None and arg.style else "form"
            params.extend(query_pairs(name, value, style, arg.explode if arg else None))
        headers: CIMultiDict[str] = CIMultiDict(self._headers)
        for name, raw in spec.headers.items():
            arg = args.get(placeholder_arg(lone_placeholder(raw)) or "")
            text = header_text(render_value(raw, full), bool(arg is not None and arg.explode))
            if text is not None:
                headers[name] = text
        if "Accept" not in headers and op is not None and (accept := _accept(op)):
            headers["Accept"] = accept
        body: bytes | None = None
        if spec.body is not None:
            rendered = render_value(spec.body, full)
            if _absent(rendered):  # an optional body left out: no body, no Content-Type
                headers.popall("Content-Type", None)
            else:
                body, content_type = encode_body(
                    _without_nulls(rendered), spec.body_format, spec.xml_root
                )
                headers.setdefault("Content-Type", content_type)
        timeout = (op.timeout if op else None) or self.spec.source.timeouts.total
        return HttpRequest(spec.method, self.base_url + path, params, headers, body, timeout)

    # --- the exchange ------------------------------------------------------------------

    async def _send_raw(self, request: HttpRequest) -> HttpResponse:
        return await send(
            self.session,
            request,
            connector=self.name,
            max_body=self.spec.source.max_body_bytes,
        )

    async def _exchange(
        self,
        op_name: str,
        op: Operation,
        request: HttpRequest,
        *,
        retries_allowed: bool | None = None,
    ) -> HttpResponse | _Mapped:
        """Send `request` with limits, auth, retries and the breaker; map error statuses.

        Returns the 2xx response, or a `_Mapped` value when `errors:` maps the status to a
        result (null or empty list). Raises a ConnectorError otherwise.
        """
        if request.host not in self._allowed_hosts:
            raise UpstreamError(
                f"refusing to call host {request.host!r}: not the connector's base_url host "
                "nor in source.allow_hosts",
                connector=self.name,
                operation=op_name,
            )
        if self.breaker is not None:
            # One call is one breaker event, however many attempts its retries make.
            try:
                self.breaker.before_call()
            except ConnectorError as exc:
                exc.connector, exc.operation = self.name, op_name
                self.metrics.errors[exc.code] += 1
                raise
        self.in_flight += 1
        self._idle.clear()
        try:
            result = await self._attempts(op_name, op, request, retries_allowed)
        except ConnectorError as exc:
            self._observe(op_name, exc.code)
            raise
        finally:
            self.in_flight -= 1
            if not self.in_flight:
                self._idle.set()
            if self.breaker is not None:
                self.breaker.release()
        self._observe(op_name, None)
        return result

    def _observe(self, op_name: str, error: str | None) -> None:
        """Record one call's outcome and tell the observers (health, usage)."""
        self.metrics.record_call(op_name, error)
        for observer in self.observers:
            observer(self, op_name, error)

    async def _attempts(
        self, op_name: str, op: Operation, request: HttpRequest, retries_allowed: bool | None
    ) -> HttpResponse | _Mapped:
        policy = self.spec.source.retry
        may_retry = op.retries_allowed if retries_allowed is None else retries_allowed
        attempts = policy.max_attempts if may_retry else 1
        refreshed = False
        attempt = 0
        auth = self.auth_for(op)
        while True:
            attempt += 1
            await self._wait_for_capacity(op_name)
            outgoing = HttpRequest(
                request.method,
                request.url,
                list(request.params),
                CIMultiDict(request.headers),
                request.body,
                request.timeout,
            )
            cached = self._cache.lookup(outgoing) if self._cache is not None else None
            await auth.apply(outgoing)
            self.metrics.requests[op_name] += 1
            started = time.perf_counter()
            try:
                response = await send(
                    self.session,
                    outgoing,
                    connector=self.name,
                    operation=op_name,
                    max_body=self.spec.source.max_body_bytes,
                )
            except UpstreamError as exc:
                ms = (time.perf_counter() - started) * 1000
                self.metrics.latency.observe(ms)
                self._trace(op, outgoing, None, exc.code, ms)
                if exc.retryable and attempt < attempts:
                    await self._backoff(attempt, None)
                    continue
                self._record_failure()
                self.metrics.errors[exc.code] += 1
                raise
            ms = (time.perf_counter() - started) * 1000
            self.metrics.latency.observe(ms)
            status = response.status
            self._trace(op, outgoing, status, "ok" if 200 <= status < 300 else f"HTTP {status}", ms)
            if self.recorder is not None:
                self.recorder(outgoing, response)
            self._note_quota(response)
            if status == 304 and cached is not None:
                self.metrics.cache_hits += 1
                response = cached
                status = 200
            if 200 <= status < 300:
                self._record_success()
                if self._cache is not None:
                    self._cache.store(outgoing, response)
                body_error = self._body_error(response)
                if body_error is None:
                    return response
                if body_error == "auth" and not refreshed:
                    refreshed = True
                    if await auth.refresh(outgoing):
                        attempt -= 1
                        continue
                if body_error == "not_found":
                    return _Mapped(None)
                error = self._body_error_exception(op_name, response, body_error)
                if error.retryable and attempt < attempts:
                    await self._backoff(attempt, None)
                    continue
                self.metrics.errors[error.code] += 1
                raise error
            if status == 401 and not refreshed:
                refreshed = True
                if await auth.refresh(outgoing):
                    attempt -= 1
                    continue
            body = _lenient_json(response)
            action = self._error_action(op, status, body)
            retry_after = retry_after_from(response.headers, self.clock.time())
            if status == 403 and (retry_after is not None or self._quota_exhausted(response)):
                status_kind = 429  # GitHub's primary and secondary rate limits answer 403
                retry_after = retry_after if retry_after is not None else self._quota_wait()
            else:
                status_kind = status
            if status_kind == 429 and retry_after is not None and self.limiter is not None:
                self.limiter.penalize(retry_after)
            # An explicit `retry` in errors: is the spec author's word that retrying is safe.
            explicit = action == "retry" or (isinstance(action, CustomError) and action.retry)
            # a rule that only shapes the error keeps the policy's retries, unless it says
            # retryable: false
            default = action == "error" or (
                isinstance(action, CustomError) and action.retryable is not False
            )
            retry_status = explicit or (default and status_kind in policy.on_status)
            limit = policy.max_attempts if explicit else attempts
            too_long = retry_after is not None and retry_after > policy.max_retry_after
            if retry_status and attempt < limit and not too_long:
                await self._backoff(attempt, retry_after)
                continue
            if status >= 500 or status_kind == 429:
                self._record_failure()
            else:
                self._record_success()  # the upstream is up; the request itself was wrong
            if action is None or action == "null":
                return _Mapped(None)
            if action == "empty":
                return _Mapped([])
            error = self._status_error(op_name, status, status_kind, action, retry_after, body)
            self.metrics.errors[error.code] += 1
            raise error

    # --- quotas and body errors ----------------------------------------------------------

    async def _wait_for_capacity(self, op_name: str) -> None:
        """The token bucket, and an exhausted upstream quota: wait, or fail without calling."""
        try:
            wait = self._quota_wait()
            if wait:
                if wait > self._max_wait:
                    raise RateLimited(
                        f"the upstream's request quota is used up until it resets in {wait:.0f} s",
                        retry_after=wait,
                        reset_at=self.clock.time() + wait,
                    )
                self.metrics.rate_limit_waits += 1
                self.metrics.rate_limit_wait_seconds += wait
                await self.clock.sleep(wait)
            if self.limiter is not None:
                waited = await self.limiter.acquire(self._max_wait)
                if waited:
                    self.metrics.rate_limit_waits += 1
                    self.metrics.rate_limit_wait_seconds += waited
        except RateLimited as exc:
            exc.connector, exc.operation = self.name, op_name
            self.metrics.errors[exc.code] += 1
            raise

    def _quota_wait(self) -> float:
        return max(0.0, self._quota_reset_at - self.clock.time())

    def _quota_exhausted(self, response: HttpResponse) -> bool:
        quota = self.spec.source.quota_headers
        return quota is not None and response.headers.get(quota.remaining, "").strip() == "0"

    def _note_quota(self, response: HttpResponse) -> None:
        """Remember when an exhausted quota resets, so later calls wait instead of failing."""
        quota = self.spec.source.quota_headers
        if quota is None or not self._quota_exhausted(response):
            return
        try:
            value = float(response.headers.get(quota.reset, ""))
        except ValueError:
            return
        reset = value if quota.reset_kind == "epoch" else self.clock.time() + value
        self._quota_reset_at = max(self._quota_reset_at, reset)

    def _body_error(self, response: HttpResponse) -> str | None:
        """`auth`, `rate_limit`, `not_found` or `error` for an error inside a 2xx body."""
        rules = self.spec.source.body_errors
        if rules is None:
            return None
        body = _lenient_json(response)
        if body is None or not _matches(rules.when, body):
            return None
        code = _path(rules.code_path).get(body)
        if code in rules.auth_codes:
            return "auth"
        if code in rules.rate_limit_codes:
            return "rate_limit"
        if code in rules.not_found_codes:
            return "not_found"
        return "error"

    def _body_error_exception(
        self, op_name: str, response: HttpResponse, kind: str
    ) -> ConnectorError:
        rules = self.spec.source.body_errors
        assert rules is not None
        code = _path(rules.code_path).get(_lenient_json(response))
        where: dict[str, Any] = {"connector": self.name, "operation": op_name, "status": 200}
        error: ConnectorError
        if kind == "auth":
            error = AuthError(f"the upstream refused the credentials ({code})", **where)
        elif kind == "rate_limit":
            wait = retry_after_from(response.headers, self.clock.time())
            error = RateLimited(
                f"the upstream is rate limiting ({code})", retry_after=wait, **where
            )
        else:
            error = UpstreamError(f"the upstream reported an error: {code}", **where)
        error.extra["upstreamCode"] = code
        return error

    def _trace(
        self, op: Operation, sent: HttpRequest, status: int | None, outcome: str, ms: float
    ) -> None:
        template = op.request.path if sent.url.startswith(self.base_url) else "(next page URL)"
        record(TraceEntry(sent.method, self.redact(self.base_url) + template, status, outcome, ms))

    async def _backoff(self, attempt: int, retry_after: float | None) -> None:
        self.metrics.retries += 1
        await self.clock.sleep(delay_for(attempt, self.spec.source.retry, retry_after, self._rng))

    def _record_failure(self) -> None:
        if self.breaker is not None:
            self.breaker.record_failure()

    def _record_success(self) -> None:
        if self.breaker is not None:
            self.breaker.record_success()

    def _on_breaker_change(self, old: str, new: str) -> None:
        self.metrics.breaker_state = new
        if new == "closed":
            self.metrics.recent.clear()  # a recovered upstream starts a fresh error window
        level = logging.WARNING if new == "open" else logging.INFO
        log.log(level, "connector %s: circuit %s → %s", self.name, old, new)
        for observer in self.observers:
            observer(self, None, None)

    def _error_action(self, op: Operation, status: int, body: Any) -> ErrorAction | str:
        """The errors-table entry for `status` (operation's first), a rule list resolved by
        the body: the first rule whose `when` matches, else a plain error."""
        for table in (op.errors, self.spec.source.errors):
            for key in (str(status), f"{status // 100}xx", "default"):
                if key in table:
                    action = table[key]
                    if isinstance(action, list):
                        return next((r for r in action if _rule_applies(r, body)), "error")
                    if isinstance(action, CustomError) and not _rule_applies(action, body):
                        return "error"
                    return action
        return "error"

    def _status_error(
        self,
        op_name: str,
        status: int,
        kind: int,
        action: ErrorAction | str,
        retry_after: float | None,
        body: Any,
    ) -> ConnectorError:
        """The typed error for a status (`kind`: the status it counts as, e.g. a rate-limit
        403 counts as 429), shaped further by a custom rule from the errors table."""
        where: dict[str, Any] = {"connector": self.name, "operation": op_name, "status": status}
        error: ConnectorError
        if kind == 429:
            wait = f"; retry after {retry_after:g} s" if retry_after is not None else ""
            reset = self.clock.time() + retry_after if retry_after is not None else None
            error = RateLimited(
                f"the upstream is rate limiting (HTTP {status}){wait}",
                retry_after=retry_after,
                reset_at=reset,
                **where,
            )
        elif kind in (401, 403):
            error = AuthError(
                f"the upstream refused the credentials (HTTP {status})"
                if kind == 401
                else f"the upstream denied access (HTTP {status})",
                **where,
            )
        elif kind == 404:
            error = UpstreamError(
                "the upstream has no such resource (HTTP 404)", code="NOT_FOUND", **where
            )
        else:
            error = UpstreamError(
                f"the upstream answered HTTP {status}", retryable=status >= 500, **where
            )
        if isinstance(action, CustomError):
            self._apply_rule(error, action, body)
        return error

    def _apply_rule(self, error: ConnectorError, rule: CustomError, body: Any) -> None:
        """Apply a spec's error rule: code, message (maybe from the body), details."""
        if rule.code is not None:
            error.code = rule.code
        if rule.retryable is not None:
            error.retryable = rule.retryable
        message = rule.message
        if rule.message_path is not None:
            found = _path(rule.message_path).get(body)
            if isinstance(found, str) and found:
                message = self.redact(found)[:MAX_UPSTREAM_MESSAGE]
        if message:
            error.message = message
            error.args = (message,)
        if rule.details_path is not None:
            details = _path(rule.details_path).get(body)
            if details is not None:
                error.extra["details"] = details
        if rule.upstream_code_path is not None:
            code = _path(rule.upstream_code_path).get(body)
            if code is not None:
                error.extra["upstreamCode"] = code

    # --- responses ---------------------------------------------------------------------

    def _decode(self, op_name: str, op: Operation, response: HttpResponse) -> Any:
        if response.status in NO_BODY_STATUSES:
            return None
        if op.response.type.strip().rstrip("! ") == BINARY:  # bytes as they came, size-bounded
            disposition = response.headers.get("Content-Disposition", "")
            return BinaryBody(
                response.body, response.content_type, filename_from_disposition(disposition)
            )
        if not response.body:
            return None
        try:
            return decode_body(response.body, response.content_type, op.response.format)
        except ConnectorError as exc:
            exc.connector, exc.operation, exc.status = self.name, op_name, response.status
            self.metrics.errors[exc.code] += 1
            raise

    def _records(self, op: Operation, body: Any) -> list[Any]:
        return self._filter(op, self._selected(op, body))

    def _selected(self, op: Operation, body: Any) -> list[Any]:
        """The records at `response.records`, before any filter."""
        value = _path(op.response.records or ".").get(body)
        if value is None:
            return []
        return value if isinstance(value, list) else [value]

    def _filter(self, op: Operation, records: Iterable[Any]) -> list[Any]:
        if not op.response.filter:
            return list(records)
        tests = [(_path(p), v) for p, v in op.response.filter.items()]
        return [r for r in records if all(path.get(r) == want for path, want in tests)]

    def _shape(self, op: Operation, body: Any) -> Any:
        """Select records and fit them to the declared response type (list or single)."""
        if parse_type_ref(op.response.type).is_list or op.is_paginated:
            return self._records(op, body)
        value = _path(op.response.records or ".").get(body)
        if isinstance(value, list) and op.response.filter:
            value = self._filter(op, value)
            return value[0] if value else None
        return value


def _path_part(
    placeholder: Placeholder, scope: Mapping[str, Any], args: Mapping[str, ArgSpec], join: str
) -> str:
    """One path placeholder, percent-encoded: an argument in its style (default `simple`)."""
    value = placeholder.path.get(scope.get(placeholder.namespace))
    name = placeholder_arg(placeholder)
    arg = args.get(name) if name is not None else None
    if name is None or arg is None:
        return quote(to_text(value, join), safe="")
    return path_text(name, value, arg.style or "simple", arg.explode)


ACCEPT = {"json": JSON_TYPE, "xml": XML_TYPE, "form": FORM_TYPE, "text": "text/plain"}
ACCEPT_DEFAULT = f"{JSON_TYPE}, */*;q=0.8"
"""Without `response.format` the body is parsed by its Content-Type: JSON preferred."""


def _accept(op: Operation) -> str | None:
    """The Accept header for the media type the spec chose; None (aiohttp's `*/*`) for a
    Binary result, which takes any body."""
    if op.response.format is not None:
        return ACCEPT[op.response.format]
    if parse_type_ref(op.response.type).base == BINARY:
        return None
    return ACCEPT_DEFAULT


def _absent(body: Any) -> bool:
    """An optional body left out: it rendered to null, or it is a mapping whose every value
    is absent (each optional argument it names was left out). A literal `{}` is sent."""
    if body is None:
        return True
    return isinstance(body, dict) and bool(body) and all(_absent(v) for v in body.values())


def _without_nulls(value: Any) -> Any:
    """A rendered body without the keys whose template rendered to null (unset arguments),
    as query parameters are left out: the upstream sees its own defaults."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _lenient_json(response: HttpResponse) -> Any:
    """The body as JSON if it is JSON, else None: for matching error rules."""
    if not response.body or "json" not in (response.content_type or "json"):
        return None
    try:
        return orjson.loads(response.body)
    except orjson.JSONDecodeError:
        return None


def _matches(test: BodyMatch, body: Any) -> bool:
    return body is not None and _path(test.path).get(body) == test.equals


def _rule_applies(rule: CustomError, body: Any) -> bool:
    return rule.when is None or _matches(rule.when, body)


@dataclass(frozen=True)
class _Mapped:
    """A result chosen by the `errors:` table instead of a response body."""

    value: Any
