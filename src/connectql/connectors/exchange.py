"""The exchange: one upstream call, however many attempts it takes.

Every request a connector makes goes through `Exchange.send`, the one place where the host
check, the circuit breaker, the rate limit and upstream quotas, auth, retries (backoff,
Retry-After), the ETag cache, tracing and call metrics apply. What an answer means is the
error handler's to say; whether to try again is decided here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time
from collections.abc import Callable

import aiohttp
from multidict import CIMultiDict

from connectql.connectors import http, trace
from connectql.connectors.auth import AuthStrategy
from connectql.connectors.breaker import CircuitBreaker
from connectql.connectors.cache import ETagCache
from connectql.connectors.callers import Forwarded, calling_as, current_call
from connectql.connectors.clock import Clock
from connectql.connectors.error_handler import (
    ErrorHandler,
    Mapped,
    lenient_json,
    mapped_result,
    retry_by_policy,
    retry_explicit,
)
from connectql.connectors.http import HttpRequest, HttpResponse
from connectql.connectors.metrics import ConnectorMetrics
from connectql.connectors.ratelimit import TokenBucket
from connectql.connectors.requester import Requester
from connectql.connectors.retry import delay_for, retry_after_from
from connectql.errors import ConnectorError, RateLimited, UpstreamError
from connectql.spec.models import ConnectorSpec, Operation, RateLimit

log = logging.getLogger("connectql.connector")

DEFAULT_RATE_LIMIT = RateLimit(requests_per_second=1e9)
"""Only its max_wait matters: how long a call may wait for an exhausted quota to reset."""

NOBODY: contextlib.nullcontext[None] = contextlib.nullcontext()
"""What a call for no caller enters, made outside any other call: nothing to set."""

Notify = Callable[[str | None, ConnectorError | None], None]
"""Told of every call's outcome (operation, its error or None) and of every breaker change
(operation None)."""
Recorder = Callable[[HttpRequest, HttpResponse], None]
"""Sees every exchange as sent (credentials included): `connectql test --record`."""


class Exchange:
    def __init__(
        self,
        spec: ConnectorSpec,
        requester: Requester,
        error_handler: ErrorHandler,
        *,
        session: Callable[[], aiohttp.ClientSession],
        clock: Clock,
        metrics: ConnectorMetrics,
        rng: random.Random,
        notify: Notify,
    ) -> None:
        """`session` gives the connector's pooled session, opened on first use."""
        self.name = spec.name
        self._source = spec.source
        self._requester = requester
        self._errors = error_handler
        self._session = session
        self.clock = clock
        self.metrics = metrics
        self._rng = rng
        self._notify = notify
        source = spec.source
        self.allowed_hosts = frozenset([*requester.hosts(), *source.allow_hosts])
        """The hosts calls may go to (besides those auth learns at sign-in)."""
        self._allowed_roots = tuple(
            f"{scheme}://{host}/" for host in self.allowed_hosts for scheme in ("http", "https")
        )
        """A URL starting with one of these is on an allowed host, without parsing it."""
        self._cache = ETagCache(source.cache.max_entries) if source.cache else None
        self._quota_reset_at = 0.0
        self.breaker = (
            CircuitBreaker(source.circuit_breaker, clock, self._on_breaker_change)
            if source.circuit_breaker
            else None
        )
        rate = source.rate_limit
        self.limiter = TokenBucket(rate.requests_per_second, rate.burst, clock) if rate else None
        self._max_wait = (rate or DEFAULT_RATE_LIMIT).max_wait
        self.recorder: Recorder | None = None
        self.in_flight = 0
        self._idle = asyncio.Event()

    async def send_raw(self, request: HttpRequest) -> HttpResponse:
        """One HTTP exchange with no auth, retry or limits: for token endpoints."""
        return await http.send(
            self._session(),
            request,
            connector=self.name,
            max_body=self._source.max_body_bytes,
        )

    async def send(
        self,
        op_name: str,
        op: Operation,
        request: HttpRequest,
        *,
        retries_allowed: bool | None = None,
        forwarded: Forwarded | None = None,
    ) -> HttpResponse | Mapped:
        """Send `request` with limits, auth, retries and the breaker; map error statuses.
        `forwarded`: the caller headers the call reads (its auth and cache partition).

        Returns the 2xx response, or a `Mapped` value when `errors:` maps the status to a
        result (null or empty list). Raises a ConnectorError otherwise.
        """
        auth = self._requester.auth_for(op, forwarded)
        if (
            not request.url.startswith(self._allowed_roots)
            and request.host not in self.allowed_hosts
            and request.host not in auth.hosts()
        ):
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
            caller = forwarded is not None or current_call() is not None
            with calling_as(forwarded) if caller else NOBODY:  # its values are redacted
                result = await self._attempts(
                    op_name, op, request, auth, retries_allowed, forwarded
                )
        except ConnectorError as exc:
            self._observe(op_name, exc)
            raise
        finally:
            self.in_flight -= 1
            if not self.in_flight:
                self._idle.set()
            if self.breaker is not None:
                self.breaker.release()
        self._observe(op_name, None)
        return result

    async def drained(self, grace: float) -> None:
        """Wait until no call is in flight, or `grace` seconds have passed."""
        if self.in_flight:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), grace)

    def _observe(self, op_name: str, error: ConnectorError | None) -> None:
        """Record one call's outcome and tell the observers (health, usage, last errors)."""
        self.metrics.record_call(op_name, error.code if error is not None else None)
        self._notify(op_name, error)

    async def _attempts(
        self,
        op_name: str,
        op: Operation,
        request: HttpRequest,
        auth: AuthStrategy,
        retries_allowed: bool | None,
        forwarded: Forwarded | None = None,
    ) -> HttpResponse | Mapped:
        policy = self._source.retry
        may_retry = op.retries_allowed if retries_allowed is None else retries_allowed
        attempts = policy.max_attempts if may_retry else 1
        refreshed = False
        attempt = 0
        partition = forwarded.identity if forwarded is not None else ""
        while True:
            attempt += 1
            if self.limiter is not None or self._quota_reset_at:
                await self._wait_for_capacity(op_name)
            outgoing = HttpRequest(
                request.method,
                request.url,
                list(request.params),
                CIMultiDict(request.headers),
                request.body,
                request.timeout,
            )
            cached = self._cache.lookup(outgoing, partition) if self._cache is not None else None
            await auth.apply(outgoing)
            self.metrics.requests[op_name] += 1
            started = time.perf_counter()
            try:
                response = await http.send(
                    self._session(),
                    outgoing,
                    connector=self.name,
                    operation=op_name,
                    max_body=self._source.max_body_bytes,
                )
            except UpstreamError as exc:
                ms = (time.perf_counter() - started) * 1000
                self.metrics.latency.observe(ms)
                self._trace(op, request, None, exc.code, ms)
                if exc.retryable and attempt < attempts:
                    await self._backoff(attempt, None)
                    continue
                self._record_failure()
                self.metrics.errors[exc.code] += 1
                raise
            ms = (time.perf_counter() - started) * 1000
            self.metrics.latency.observe(ms)
            status = response.status
            self._trace(op, request, status, "ok" if 200 <= status < 300 else f"HTTP {status}", ms)
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
                    self._cache.store(outgoing, response, partition)
                body_error = self._errors.body_error(response)
                if body_error is None:
                    return response
                if body_error == "auth" and not refreshed:
                    refreshed = True
                    if await auth.refresh(outgoing):
                        attempt -= 1
                        continue
                if body_error == "not_found":
                    return Mapped(None)
                error = self._errors.body_error_exception(op_name, response, body_error)
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
            body = lenient_json(response)
            action = self._errors.action_for(op, status, body)
            retry_after = retry_after_from(response.headers, self.clock.time())
            if status == 403 and (retry_after is not None or self._quota_exhausted(response)):
                status_kind = 429  # GitHub's primary and secondary rate limits answer 403
                retry_after = retry_after if retry_after is not None else self._quota_wait()
            else:
                status_kind = status
            if status_kind == 429 and retry_after is None and self._quota_exhausted(response):
                retry_after = self._quota_wait()  # OpenRouter: no Retry-After, a quota reset
            if status_kind == 429 and retry_after is not None and self.limiter is not None:
                self.limiter.penalize(retry_after)
            explicit = retry_explicit(action)
            retry_status = explicit or (retry_by_policy(action) and status_kind in policy.on_status)
            limit = policy.max_attempts if explicit else attempts
            too_long = retry_after is not None and retry_after > policy.max_retry_after
            if retry_status and attempt < limit and not too_long:
                await self._backoff(attempt, retry_after)
                continue
            if status >= 500 or status_kind == 429:
                self._record_failure()
            else:
                self._record_success()  # the upstream is up; the request itself was wrong
            mapped = mapped_result(action)
            if mapped is not None:
                return mapped
            error = self._errors.status_error(
                op_name, status, status_kind, action, retry_after, body
            )
            self.metrics.errors[error.code] += 1
            raise error

    # --- limits and quotas ---------------------------------------------------------------

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
        quota = self._source.quota_headers
        if quota is None:
            return False
        value = response.headers.get(quota.remaining, "")
        if quota.usage_pattern is None:
            return value.strip() == "0"
        usage = re.search(quota.usage_pattern, value)
        return usage is not None and int(usage["used"]) >= int(usage["limit"])

    def _note_quota(self, response: HttpResponse) -> None:
        """Remember when an exhausted quota resets, so later calls wait instead of failing."""
        quota = self._source.quota_headers
        if quota is None or not self._quota_exhausted(response):
            return
        try:
            value = float(response.headers.get(quota.reset, ""))
        except ValueError:
            if quota.reset_after is None:
                return
            value, kind = quota.reset_after, "seconds"  # the upstream names no reset time
        else:
            kind = quota.reset_kind
        if kind == "epoch":
            reset = value
        elif kind == "epoch_ms":
            reset = value / 1000
        else:
            reset = self.clock.time() + value
        self._quota_reset_at = max(self._quota_reset_at, reset)

    # --- attempts: tracing, backoff, the breaker ------------------------------------------

    def _trace(
        self, op: Operation, sent: HttpRequest, status: int | None, outcome: str, ms: float
    ) -> None:
        """`sent`: the request as built, before auth (which may send it elsewhere)."""
        if not trace.active():
            return
        base_url = self._requester.base_url
        template = op.request.path if sent.url.startswith(base_url) else "(next page URL)"
        url = self._requester.redact(base_url) + template
        trace.record(trace.TraceEntry(sent.method, url, status, outcome, ms))

    async def _backoff(self, attempt: int, retry_after: float | None) -> None:
        self.metrics.retries += 1
        await self.clock.sleep(delay_for(attempt, self._source.retry, retry_after, self._rng))

    def _record_failure(self) -> None:
        if self.breaker is not None:
            self.breaker.record_failure()

    def _record_success(self) -> None:
        if self.breaker is not None:
            self.breaker.record_success()

    def _on_breaker_change(self, old: str, new: str) -> None:
        self.metrics.breaker_state = new
        if new == "closed":
            self.metrics.clear_recent()  # a recovered upstream starts a fresh error window
        level = logging.WARNING if new == "open" else logging.INFO
        log.log(level, "connector %s: circuit %s → %s", self.name, old, new)
        self._notify(None, None)
