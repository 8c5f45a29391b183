"""GET /metrics: the connectors' figures in the Prometheus text format.

A custom collector reads the same in-memory counters the GraphQL metrics subscription does,
at scrape time, into a registry of this app's own (no process-global state).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
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


def metrics_registry(control: ControlPlane) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ConnectorCollector(control))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
