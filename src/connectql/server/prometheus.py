"""GET /metrics: the connectors' figures in the Prometheus text format.

A custom collector reads the same in-memory counters the GraphQL metrics subscription does,
at scrape time, into a registry of this app's own (no process-global state).

With several worker processes (`serve --workers N`), each worker writes what its collector
reads into prometheus-client's multiprocess files (PROMETHEUS_MULTIPROC_DIR, one set per
pid) every `FLUSH_SECONDS` and before it answers a scrape, and /metrics merges every
worker's files: counters and histograms are summed (a dead worker's counts stay in the
sums); gauges merge as `GAUGE_MODES` says.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from connectql.connectors.metrics import LATENCY_BUCKETS_MS
from connectql.control.health import DEGRADED, DOWN, STARTING, STOPPED, UP
from connectql.control.service import ControlPlane

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
HEALTH_STATES = (STARTING, UP, DEGRADED, DOWN, STOPPED)
BREAKER_STATES = ("closed", "open", "half_open")


class ConnectorCollector(Collector):
    def __init__(self, control: ControlPlane) -> None:
        self._control = control

    def collect(self) -> Iterator[Metric]:
        connectors = self._control.runtime.connectors
        requests = CounterMetricFamily(
            "connectql_upstream_requests",
            "Upstream HTTP requests, retries included.",
            labels=["connector", "operation"],
        )
        calls = CounterMetricFamily(
            "connectql_calls",
            "Logical calls (a call and its retries count once).",
            labels=["connector", "operation"],
        )
        errors = CounterMetricFamily(
            "connectql_errors", "Failed calls by error code.", labels=["connector", "code"]
        )
        retries = CounterMetricFamily("connectql_retries", "Retries.", labels=["connector"])
        waits = CounterMetricFamily(
            "connectql_rate_limit_waits",
            "Calls that waited for the rate limiter.",
            labels=["connector"],
        )
        waited = CounterMetricFamily(
            "connectql_rate_limit_wait_seconds",
            "Seconds spent waiting for the rate limiter.",
            labels=["connector"],
        )
        breaker = GaugeMetricFamily(
            "connectql_breaker_state",
            "1 for the circuit breaker's current state.",
            labels=["connector", "state"],
        )
        latency = HistogramMetricFamily(
            "connectql_upstream_latency_ms",
            "Upstream request latency in milliseconds.",
            labels=["connector"],
        )
        for name, connector in sorted(connectors.items()):
            m = connector.metrics
            for op, n in sorted(m.requests.items()):
                requests.add_metric([name, op], n)
            for op, n in sorted(m.calls.items()):
                calls.add_metric([name, op], n)
            for code, n in sorted(m.errors.items()):
                errors.add_metric([name, code], n)
            retries.add_metric([name], m.retries)
            waits.add_metric([name], m.rate_limit_waits)
            waited.add_metric([name], m.rate_limit_wait_seconds)
            state = connector.breaker.state if connector.breaker else "closed"
            for candidate in BREAKER_STATES:
                breaker.add_metric([name, candidate], 1.0 if candidate == state else 0.0)
            cumulative, buckets = 0, []
            for bound, count in zip(
                [*map(str, LATENCY_BUCKETS_MS), "+Inf"], m.latency.counts, strict=True
            ):
                cumulative += count
                buckets.append((bound, cumulative))
            latency.add_metric([name], buckets, m.latency.sum_ms)
        health = GaugeMetricFamily(
            "connectql_connector_health",
            "1 for the connector's current health state on this replica.",
            labels=["connector", "state"],
        )
        for name, judged in sorted(self._control.health.current.items()):
            for candidate in HEALTH_STATES:
                health.add_metric([name, candidate], 1.0 if candidate == judged.state else 0.0)
        version = GaugeMetricFamily("connectql_schema_version", "The live schema's version.")
        version.add_metric([], self._control.runtime.version)
        yield from (requests, calls, errors, retries, waits, waited, breaker, latency, health)
        yield version


FLUSH_SECONDS = 1.0
"""How far behind the other workers' figures in /metrics may be."""
GAUGE_MODES = {
    "connectql_breaker_state": "livemax",  # 1 if the breaker is in that state on any worker
    "connectql_connector_health": "livemax",  # 1 if any worker judges the connector so
    "connectql_schema_version": "liveall",  # one series per worker (label pid): who lags
}


class SharedMetrics:
    """This worker's figures in the multiprocess `directory`, and everyone's for /metrics."""

    def __init__(self, registry: CollectorRegistry, directory: Path) -> None:
        self._registry = registry
        self._directory = directory
        self._merged = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(self._merged, path=str(directory))

    def flush(self) -> None:
        """Replace this worker's files with what its collector reads now."""
        files: dict[str, list[tuple[str, float]]] = {}
        for family in self._registry.collect():
            gauge = family.type == "gauge"
            prefix = f"gauge_{GAUGE_MODES[family.name]}" if gauge else family.type
            rows = files.setdefault(prefix, [])
            below: dict[tuple[tuple[str, str], ...], float] = {}
            for sample in family.samples:
                labels = dict(sample.labels)
                value = sample.value
                if sample.name.endswith("_count") and family.type == "histogram":
                    continue  # the merge counts the buckets
                if "le" in labels and family.type == "histogram":  # the merge re-accumulates
                    series = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
                    value, below[series] = value - below.get(series, 0.0), value
                key = mmap_key(
                    family.name,
                    sample.name,
                    list(labels),
                    list(labels.values()),
                    family.documentation,
                )
                rows.append((key, value))
        pid = os.getpid()
        for prefix, rows in files.items():
            final = self._directory / f"{prefix}_{pid}.db"
            partial = final.with_suffix(".partial")  # not *.db: never merged half-written
            out = MmapedDict(str(partial))
            try:
                for key, value in rows:
                    out.write_value(key, value, 0.0)
            finally:
                out.close()
            os.replace(partial, final)

    def render(self) -> bytes:
        self.flush()
        return generate_latest(self._merged)

    async def keep_flushing(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            self.flush()


def metrics_registry(control: ControlPlane) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ConnectorCollector(control))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
