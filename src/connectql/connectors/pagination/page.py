"""`?page=N&per_page=S` pagination."""

from __future__ import annotations

from typing import Any

from connectql.connectors.http import HttpRequest, HttpResponse
from connectql.connectors.pagination.base import PageState, Paginator, as_int, set_param
from connectql.spec.models import PagePagination
from connectql.spec.paths import parse_path


class PagePaginator(Paginator):
    """`?page=N&per_page=S`. The size is always page_size, since page numbers depend on it."""

    def __init__(self, spec: PagePagination) -> None:
        self.spec = spec
        self._total = parse_path(spec.total_pages_path) if spec.total_pages_path else None

    def first(self, limit: int) -> PageState:
        return {"page": self.spec.start_page}

    def prepare(self, state: PageState, request: HttpRequest, limit: int) -> None:
        set_param(request, self.spec.page_param, state["page"])
        set_param(request, self.spec.size_param, self.spec.page_size)

    def next(
        self, state: PageState, response: HttpResponse, body: Any, records: list[Any]
    ) -> PageState | None:
        page = int(state["page"])
        if self._total is not None:
            total = as_int(self._total.get(body))
            if total is not None:
                last = total + self.spec.start_page - 1
                return {"page": page + 1} if page < last else None
        if not records or len(records) < self.spec.page_size:
            return None
        return {"page": page + 1}
