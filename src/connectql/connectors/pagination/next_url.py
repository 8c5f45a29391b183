"""Pagination by a next-page URL in the body (`next`, `nextRecordsUrl`, `@odata.nextLink`)."""

from __future__ import annotations

from typing import Any

from connectql.connectors.http import HttpResponse
from connectql.connectors.pagination.base import UrlPaginator
from connectql.spec.models import NextUrlPagination
from connectql.spec.paths import parse_path


class NextUrlPaginator(UrlPaginator):
    def __init__(self, spec: NextUrlPagination) -> None:
        self.spec = spec
        self.size_param = spec.size_param
        self.page_size = spec.page_size
        self._path = parse_path(spec.next_url_path)

    def next_url(self, response: HttpResponse, body: Any) -> str | None:
        value = self._path.get(body)
        return value if isinstance(value, str) and value else None
