"""`?offset=N&limit=S` pagination."""

from __future__ import annotations

from typing import Any

from connectql.connectors.http import HttpRequest, HttpResponse
from connectql.connectors.pagination.base import PageState, Paginator, as_int, set_param
from connectql.spec.models import OffsetPagination
from connectql.spec.paths import parse_path


class OffsetPaginator(Paginator):
    """`?offset=N&limit=S`: the offset moves by the records actually received."""

    def __init__(self, spec: OffsetPagination) -> None:
        self.spec = spec
        self._total = parse_path(spec.total_path) if spec.total_path else None

    def first(self, limit: int) -> PageState:
        return {"offset": 0}

    def prepare(self, state: PageState, request: HttpRequest, limit: int) -> None:
        size = max(1, min(limit, self.spec.page_size))
        state["size"] = size
        set_param(request, self.spec.offset_param, state["offset"])
        set_param(request, self.spec.size_param, size)

    def next(
        self, state: PageState, response: HttpResponse, body: Any, records: list[Any]
    ) -> PageState | None:
        if not records:
            return None
        offset = int(state["offset"]) + len(records)
        if self._total is not None:
            total = as_int(self._total.get(body))
            if total is not None:
                return {"offset": offset} if offset < total else None
        if self.spec.size_param is not None and len(records) < int(state.get("size", 0)):
            return None
        return {"offset": offset}
