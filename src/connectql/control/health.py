"""Connector health: starting, up, degraded, down or stopped, with a reason.

Judged after every call and breaker change from the connector's own figures:
- down: the circuit is open, or the latest 3 calls all failed;
- degraded: the circuit is half-open, or at least `error_rate` of the latest calls failed;
- up: otherwise. A change is published on the event bus (topic `connector.health`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import asdict, dataclass

from connectql.connectors.connector import Connector
from connectql.errors import ConnectorError
from connectql.events import HEALTH, EventBus

log = logging.getLogger("connectql.health")

STARTING, UP, DEGRADED, DOWN, STOPPED = "starting", "up", "degraded", "down", "stopped"
MIN_CALLS_FOR_RATE = 4


@dataclass(frozen=True)
class Health:
    connector: str
    state: str
    reason: str
    at: str
    """ISO 8601 UTC time of the change."""
    replica: str = ""


def judge(connector: Connector, error_rate: float = 0.5) -> tuple[str, str]:
    """(state, reason) of a running connector from its breaker and latest calls."""
    breaker = connector.breaker.state if connector.breaker else "closed"
    if breaker == "closed" and not connector.metrics.recent_failed:
        return UP, "ok"  # every call: no copy of the window when none failed
    recent = list(connector.metrics.recent)
    last = [e for e in recent[-3:] if e is not None]
    if breaker == "open":
        return DOWN, f"circuit open after repeated failures (last: {_last_error(recent)})"
    if len(recent) >= 3 and len(last) == 3:
        return DOWN, f"the latest 3 calls failed (last: {last[-1]})"
    if breaker == "half_open":
        return DEGRADED, "circuit half-open: trial calls are testing the upstream"
    failed = sum(1 for e in recent if e is not None)
    if len(recent) >= MIN_CALLS_FOR_RATE and failed / len(recent) >= error_rate:
        return DEGRADED, f"{failed} of the latest {len(recent)} calls failed"
    return UP, "ok"


def _last_error(recent: list[str | None]) -> str:
    return next((e for e in reversed(recent) if e is not None), "none")


class HealthMonitor:
    def __init__(self, bus: EventBus, *, error_rate: float = 0.5) -> None:
        self._bus = bus
        self._error_rate = error_rate
        self.current: dict[str, Health] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def watch(self, connector: Connector) -> None:
        if self._observe not in connector.observers:
            connector.observers.append(self._observe)
        self._observe(connector, None, None)

    def set(self, name: str, state: str, reason: str) -> None:
        """A state the control plane knows and the calls cannot show: starting, stopped, or
        down when a connector that should run cannot."""
        self._change(name, state, reason)

    def forget(self, name: str) -> None:
        self.current.pop(name, None)

    def _observe(
        self, connector: Connector, _op: str | None, _error: ConnectorError | None
    ) -> None:
        if connector.state != "running":
            return
        state, reason = judge(connector, self._error_rate)
        self._change(connector.name, state, reason)

    def _change(self, name: str, state: str, reason: str) -> None:
        previous = self.current.get(name)
        if previous is not None and previous.state == state:
            return
        health = Health(name, state, reason, dt.datetime.now(dt.UTC).isoformat(), self._bus.origin)
        self.current[name] = health
        level = logging.WARNING if state == DOWN else logging.INFO
        log.log(level, "connector %s is %s: %s", name, state, reason)
        task = asyncio.get_running_loop().create_task(self._bus.publish(HEALTH, asdict(health)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
