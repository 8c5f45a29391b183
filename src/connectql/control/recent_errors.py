"""The latest failed calls of each connector (operation, code, message, when), for the
console's connector page.

A connector tells its observers each failed call's error: its message is what a GraphQL
client was told, never a secret.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from connectql.connectors.connector import Connector
from connectql.errors import ConnectorError

KEPT = 20
"""Failed calls kept per connector."""


@dataclass(frozen=True)
class FailedCall:
    operation: str
    code: str
    message: str
    at: str
    """ISO 8601 UTC time of the failure."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class RecentErrors:
    def __init__(self, now: Callable[[], dt.datetime] = _now) -> None:
        self._now = now
        self._failed: dict[str, deque[FailedCall]] = {}

    def watch(self, connector: Connector) -> None:
        if self._observe not in connector.observers:
            connector.observers.append(self._observe)

    def of(self, name: str) -> list[FailedCall]:
        """The connector's latest failed calls, newest first."""
        return list(reversed(self._failed.get(name, ())))

    def _observe(self, connector: Connector, op: str | None, error: ConnectorError | None) -> None:
        if op is None or error is None:
            return
        kept = self._failed.setdefault(connector.name, deque(maxlen=KEPT))
        kept.append(FailedCall(op, error.code, error.message, self._now().isoformat()))
