"""The five pagination strategies. Each stops on an empty page; the counting ones also stop
on a short page or when the upstream's total says so."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin

from connectql.connectors.http import HttpRequest, HttpResponse
from connectql.connectors.pagination.base import PageState, Paginator
from connectql.spec.models import (
    CursorPagination,
    LinkHeaderPagination,
    NextUrlPagination,
    OffsetPagination,
    PagePagination,
)
from connectql.spec.paths import parse_path


def _set_param(request: HttpRequest, name: str | None, value: Any) -> None:
    if name is None:
        return
    request.params = [(k, v) for k, v in request.params if k != name]
    request.params.append((name, str(value)))


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class PagePaginator(Paginator):
    """`?page=N&per_page=S`. The size is always page_size, since page numbers depend on it."""

    def __init__(self, spec: PagePagination) -> None:
        self.spec = spec
        self._total = parse_path(spec.total_pages_path) if spec.total_pages_path else None

    def first(self, limit: int) -> PageState:
        return {"page": self.spec.start_page}

    def prepare(self, state: PageState, request: HttpRequest, limit: int) -> None:
        _set_param(request, self.spec.page_param, state["page"])
        _set_param(request, self.spec.size_param, self.spec.page_size)

    def next(
        self, state: PageState, response: HttpResponse, body: Any, records: list[Any]
    ) -> PageState | None:
        page = int(state["page"])
        if self._total is not None:
            total = _as_int(self._total.get(body))
            if total is not None:
                last = total + self.spec.start_page - 1
                return {"page": page + 1} if page < last else None
        if not records or len(records) < self.spec.page_size:
            return None
        return {"page": page + 1}


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
        _set_param(request, self.spec.offset_param, state["offset"])
        _set_param(request, self.spec.size_param, size)

    def next(
        self, state: PageState, response: HttpResponse, body: Any, records: list[Any]
    ) -> PageState | None:
        if not records:
            return None
        offset = int(state["offset"]) + len(records)
        if self._total is not None:
            total = _as_int(self._total.get(body))
            if total is not None:
                return {"offset": offset} if offset < total else None
        if self.spec.size_param is not None and len(records) < int(state.get("size", 0)):
            return None
        return {"offset": offset}


class CursorPaginator(Paginator):
    """The body names the next cursor; a null or empty cursor ends the list."""

    def __init__(self, spec: CursorPagination) -> None:
        self.spec = spec
        self._cursor = parse_path(spec.cursor_path)

    def first(self, limit: int) -> PageState:
        return {"cursor": None}

    def prepare(self, state: PageState, request: HttpRequest, limit: int) -> None:
        if state.get("cursor"):
            _set_param(request, self.spec.cursor_param, state["cursor"])
        _set_param(request, self.spec.size_param, max(1, min(limit, self.spec.page_size)))

    def next(
        self, state: PageState, response: HttpResponse, body: Any, records: list[Any]
    ) -> PageState | None:
        cursor = self._cursor.get(body)
        if not records or cursor in (None, "") or cursor == state.get("cursor"):
            return None
        return {"cursor": cursor if isinstance(cursor, (str, int)) else str(cursor)}


class _UrlPaginator(Paginator):
    """Follows a full URL the upstream gives; the first request is the operation's own."""

    size_param: str | None
    page_size: int

    def first(self, limit: int) -> PageState:
        return {"url": None}

    def prepare(self, state: PageState, request: HttpRequest, limit: int) -> None:
        url = state.get("url")
        if url:
            request.url = str(url)
            request.params = []  # the next URL carries its own query
        else:
            _set_param(request, self.size_param, max(1, min(limit, self.page_size)))

    def next(
        self, state: PageState, response: HttpResponse, body: Any, records: list[Any]
    ) -> PageState | None:
        if not records:
            return None
        url = self.next_url(response, body)
        if not url:
            return None
        return {"url": urljoin(response.url, url)}

    def next_url(self, response: HttpResponse, body: Any) -> str | None:
        raise NotImplementedError


_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]+)*)")
_REL = re.compile(r"""rel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))""", re.IGNORECASE)


def parse_link_header(value: str) -> dict[str, str]:
    """RFC 8288 `Link` header → {rel: url}; a link with several rels is listed under each."""
    links: dict[str, str] = {}
    for match in _LINK.finditer(value):
        rel = _REL.search(match.group(2))
        if rel is None:
            continue
        for name in (rel.group(1) or rel.group(2) or "").split():
            links.setdefault(name.lower(), match.group(1).strip())
    return links


class LinkHeaderPaginator(_UrlPaginator):
    def __init__(self, spec: LinkHeaderPagination) -> None:
        self.spec = spec
        self.size_param = spec.size_param
        self.page_size = spec.page_size

    def next_url(self, response: HttpResponse, body: Any) -> str | None:
        links: dict[str, str] = {}
        for header in response.headers.getall("Link", []):
            links.update(parse_link_header(header))
        return links.get(self.spec.rel.lower())


class NextUrlPaginator(_UrlPaginator):
    def __init__(self, spec: NextUrlPagination) -> None:
        self.spec = spec
        self.size_param = spec.size_param
        self.page_size = spec.page_size
        self._path = parse_path(spec.next_url_path)

    def next_url(self, response: HttpResponse, body: Any) -> str | None:
        value = self._path.get(body)
        return value if isinstance(value, str) and value else None
