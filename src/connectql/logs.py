"""How `connectql serve` logs: one format for every logger (ours, uvicorn's, strawberry's),
a timestamp and the request id on every line, text or JSON.

The request id is set per HTTP request or WebSocket connection by the server (from a valid
`X-Request-ID` header, else generated) and read here through a context variable, so a line
logged anywhere while serving a request carries it.
"""

from __future__ import annotations

import datetime as dt
import logging
from contextvars import ContextVar
from typing import Literal

import orjson

REQUEST_ID: ContextVar[str] = ContextVar("connectql_request_id", default="-")

LEVELS = ("critical", "error", "warning", "info", "debug")
LogFormat = Literal["text", "json"]


class _RequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class _PathOnly(logging.Filter):
    """uvicorn's access lines without query strings: a GET's holds a document and variables."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            path = args[2].partition("?")[0]
            record.args = (args[0], args[1], path, args[3], args[4])
        return True


def _timestamp(record: logging.LogRecord) -> str:
    moment = dt.datetime.fromtimestamp(record.created, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    """`2026-11-30T08:05:36.123Z INFO connectql.server [a1b2c3] message`."""

    def format(self, record: logging.LogRecord) -> str:
        line = (
            f"{_timestamp(record)} {record.levelname} {record.name} "
            f"[{getattr(record, 'request_id', '-')}] {record.getMessage()}"
        )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, request_id, message (and exception)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def configure_logging(level: str, fmt: LogFormat = "text") -> None:
    """Send every logger's records to stderr in one format; uvicorn's loggers included (they
    propagate to the root because uvicorn is started with `log_config=None`)."""
    handler = logging.StreamHandler()
    handler.addFilter(_RequestId())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _PathOnly) for f in access.filters):
        access.addFilter(_PathOnly())
