"""A request trace for one logical call (testConnector): what was sent, what came back.

`tracing()` opens a trace in the current task; every upstream attempt made inside it is
appended. Entries hold the URL *template* (`/books/{args.id}`), never rendered values, so no
secret or argument ends up in a trace.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class TraceEntry:
    method: str
    url_template: str
    status: int | None
    """HTTP status, or None when no answer came (timeout, refused connection)."""
    outcome: str
    """`ok`, or the error code of this attempt."""
    ms: float


_TRACE: ContextVar[list[TraceEntry] | None] = ContextVar("connectql_trace", default=None)


@contextlib.contextmanager
def tracing() -> Iterator[list[TraceEntry]]:
    entries: list[TraceEntry] = []
    token = _TRACE.set(entries)
    try:
        yield entries
    finally:
        _TRACE.reset(token)


def active() -> bool:
    """Whether a trace is open in this task: only then is an entry worth building."""
    return _TRACE.get() is not None


def record(entry: TraceEntry) -> None:
    entries = _TRACE.get()
    if entries is not None:
        entries.append(entry)
