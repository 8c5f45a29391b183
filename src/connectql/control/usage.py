"""Usage per connector and operation: calls and errors in one-minute buckets.

Kept in memory for `RETENTION_MINUTES`; `usage(window)` sums the buckets inside the window.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from connectql.connectors.connector import Connector
from connectql.errors import ConnectorError

RETENTION_MINUTES = 24 * 60


@dataclass(frozen=True)
class Usage:
    connector: str
    operation: str
    calls: int
    errors: int


class UsageCounter:
    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._buckets: defaultdict[tuple[int, str, str], list[int]] = defaultdict(lambda: [0, 0])

    def watch(self, connector: Connector) -> None:
        if self._observe not in connector.observers:
            connector.observers.append(self._observe)

    def _observe(self, connector: Connector, op: str | None, error: ConnectorError | None) -> None:
        if op is None:
            return
        minute = int(self._now() // 60)
        bucket = self._buckets[(minute, connector.name, op)]
        bucket[0] += 1
        if error is not None:
            bucket[1] += 1
        if len(self._buckets) > 10_000:
            self._expire(minute)

    def _expire(self, minute: int) -> None:
        for key in [k for k in self._buckets if k[0] < minute - RETENTION_MINUTES]:
            del self._buckets[key]

    def usage(self, window_seconds: float) -> list[Usage]:
        since = int((self._now() - window_seconds) // 60)
        totals: defaultdict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        for (minute, connector, op), (calls, errors) in self._buckets.items():
            if minute >= since:
                total = totals[(connector, op)]
                total[0] += calls
                total[1] += errors
        return [Usage(c, o, calls, errors) for (c, o), (calls, errors) in sorted(totals.items())]
