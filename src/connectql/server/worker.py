"""What the supervisor of `connectql serve --workers N` tells each worker process."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

DemoUpstream = Callable[[], Awaitable[tuple[dict[str, str], Callable[[], Awaitable[None]]]]]
"""Starts the demo upstream: the connector's config for it, and how to stop it."""
WORKER_ENV = "CONNECTQL_WORKER"
"""Set by the supervisor in a worker's environment (JSON); never by operators."""


@dataclass(frozen=True)
class WorkerContext:
    index: int
    """1..N; a restarted worker keeps its number."""
    peers: Path
    """The directory of the workers' event sockets (events/peers.py), used without Redis."""
    metrics: Path
    """prometheus-client's multiprocess directory (PROMETHEUS_MULTIPROC_DIR)."""
    ready_fd: int = -1
    """A pipe the worker writes one byte to once it accepts connections."""
    demo: dict[str, str] | None = None
    """The bookstore connector's config for the supervisor's demo upstream, when serving the
    demo: one upstream for all workers, so a book created through one is seen by all."""

    @property
    def all_started(self) -> Path:
        """The file the supervisor creates once every worker accepts connections: until then
        /readyz says not ready, so that a pool opened on "ready" spreads over all workers
        (connections stay on the worker that accepted them)."""
        return self.peers.parent / "all-workers-started"

    def to_env(self) -> str:
        fields: dict[str, Any] = {**asdict(self), "peers": str(self.peers)}
        fields["metrics"] = str(self.metrics)
        return orjson.dumps(fields).decode()

    @classmethod
    def from_env(cls, text: str) -> WorkerContext:
        fields = orjson.loads(text)
        return cls(
            index=int(fields["index"]),
            peers=Path(fields["peers"]),
            metrics=Path(fields["metrics"]),
            ready_fd=int(fields["ready_fd"]),
            demo=fields.get("demo"),
        )
