"""Cursor pagination: the body names the next cursor."""

from __future__ import annotations

from typing import Any

from connectql.connectors.http import HttpRequest, HttpResponse
from connectql.connectors.pagination.base import PageState, Paginator, set_param
from connectql.spec.models import CursorPagination
from connectql.spec.paths import parse_path


class CursorPaginator(Paginator):
    """The body names the next cursor; a null or empty cursor ends the list."""

    def __init__(self, spec: CursorPagination) -> None:
        self.spec = spec
        self._cursor = parse_path(spec.cursor_path)

    def first(self, limit: int) -> PageState:
        return {"cursor": None}

    def prepare(self, state: PageState, request: HttpRequest, limit: int) -> None:
        if state.get("cursor"):
            set_param(request, self.spec.cursor_param, state["cursor"])
        set_param(request, self.spec.size_param, max(1, min(limit, self.spec.page_size)))

    def next(
        self, state: PageState, response: HttpResponse, body: Any, records: list[Any]
    ) -> PageState | None:
        cursor = self._cursor.get(body)
        if not records or cursor in (None, "") or cursor == state.get("cursor"):
            return None
        return {"cursor": cursor if isinstance(cursor, (str, int)) else str(cursor)}
