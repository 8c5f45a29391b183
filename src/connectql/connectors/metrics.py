"""Per-connector metrics kept in memory; exporters (Prometheus, subscriptions) read snapshots."""

from __future__ import annotations

import bisect
from collections import Counter, deque
from dataclasses import dataclass, field

LATENCY_BUCKETS_MS: tuple[float, ...] = (
    1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000,
)  # fmt: skip


RECENT_CALLS = 20
"""How many latest call outcomes the health monitor judges the error rate by."""


@dataclass
class LatencyHistogram:
    """Cumulative-bucket histogram of request latency in milliseconds."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_MS) + 1))
    total: int = 0
    sum_ms: float = 0.0

    def observe(self, ms: float) -> None:
        self.counts[bisect.bisect_left(LATENCY_BUCKETS_MS, ms)] += 1
        self.total += 1
        self.sum_ms += ms

    def quantile(self, q: float) -> float | None:
        """Upper bound of the bucket holding the q-quantile (None before any observation)."""
        if not self.total:
            return None
        rank = q * self.total
        seen = 0
        for i, count in enumerate(self.counts):
            seen += count
            if seen >= rank and count:
                return LATENCY_BUCKETS_MS[i] if i < len(LATENCY_BUCKETS_MS) else float("inf")
        return float("inf")


@dataclass
class ConnectorMetrics:
    requests: Counter[str] = field(default_factory=Counter)
    """Upstream HTTP requests sent, by operation."""
    errors: Counter[str] = field(default_factory=Counter)
    """Failed calls, by error code (UPSTREAM_ERROR, UNAUTHENTICATED, RATE_LIMITED, …)."""
    retries: int = 0
    cache_hits: int = 0
    """Responses served from the ETag cache after a 304."""
    rate_limit_waits: int = 0
    rate_limit_wait_seconds: float = 0.0
    breaker_state: str = "closed"
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    calls: Counter[str] = field(default_factory=Counter)
    """Logical calls (a call and its retries count once), by operation."""
    recent: deque[str | None] = field(default_factory=lambda: deque(maxlen=RECENT_CALLS))
    """Outcomes of the latest calls: None for success, else the error code."""

    recent_failed: int = 0
    """How many of `recent` failed (kept as calls come and go)."""

    def record_call(self, operation: str, error: str | None) -> None:
        self.calls[operation] += 1
        recent = self.recent
        if len(recent) == recent.maxlen and recent[0] is not None:
            self.recent_failed -= 1  # the oldest outcome leaves the window
        recent.append(error)
        if error is not None:
            self.recent_failed += 1

    def clear_recent(self) -> None:
        self.recent.clear()
        self.recent_failed = 0

    def recent_failures(self) -> tuple[int, int]:
        """(failed, total) among the latest calls."""
        return self.recent_failed, len(self.recent)

    def snapshot(self) -> dict[str, object]:
        return {
            "requests": sum(self.requests.values()),
            "requests_by_operation": dict(self.requests),
            "errors": dict(self.errors),
            "retries": self.retries,
            "rate_limit_waits": self.rate_limit_waits,
            "rate_limit_wait_seconds": self.rate_limit_wait_seconds,
            "breaker_state": self.breaker_state,
            "latency_ms": {
                "count": self.latency.total,
                "sum": self.latency.sum_ms,
                "p50": self.latency.quantile(0.5),
                "p95": self.latency.quantile(0.95),
                "p99": self.latency.quantile(0.99),
            },
        }
