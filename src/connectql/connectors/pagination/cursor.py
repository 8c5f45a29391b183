"""Cursor pagination: the body names the next cursor, or the last record is it (Stripe)."""

from __future__ import annotations

from typing import Any

import orjson

from connectql.connectors.http import HttpRequest, HttpResponse
from connectql.connectors.pagination.base import PageState, Paginator, set_param
from connectql.spec.models import CursorPagination
from connectql.spec.paths import parse_path


class CursorPaginator(Paginator):
    """The body names the next cursor (or the last record holds it); a null or empty cursor,
    an empty page or a false `has_more` ends the list."""

    def __init__(self, spec: CursorPagination) -> None:
        self.spec = spec
        self._cursor = parse_path(spec.cursor_path) if spec.cursor_path is not None else None
        self._last = parse_path(spec.cursor_from_last) if spec.cursor_from_last else None
        self._more = parse_path(spec.has_more_path) if spec.has_more_path else None

    def first(self, limit: int) -> PageState:
        return {"cursor": None}

    def prepare(self, state: PageState, request: HttpRequest, limit: int) -> None:
        size = max(1, min(limit, self.spec.page_size))
        if self.spec.cursor_in == "body":
            body = orjson.loads(request.body) if request.body else {}
            if state.get("cursor"):
                body[self.spec.cursor_param] = state["cursor"]
            if self.spec.size_param is not None:
                body[self.spec.size_param] = size
            request.body = orjson.dumps(body)
            return
        if state.get("cursor"):
            set_param(request, self.spec.cursor_param, state["cursor"])
        set_param(request, self.spec.size_param, size)

    def next(
        self, state: PageState, response: HttpResponse, body: Any, records: list[Any]
    ) -> PageState | None:
        if not records or (self._more is not None and self._more.get(body) is False):
            return None
        if self._cursor is not None:
            cursor = self._cursor.get(body)
        else:
            assert self._last is not None
            cursor = self._last.get(records[-1])
        if cursor in (None, "") or cursor == state.get("cursor"):
            return None
        if self.spec.cursor_in == "body" and isinstance(cursor, (dict, list)):
            return {"cursor": cursor}  # JSON as it came, sent back as it came
        return {"cursor": cursor if isinstance(cursor, (str, int)) else str(cursor)}
