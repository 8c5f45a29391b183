"""The paginator interface: one subclass per `pagination.strategy`, built by `build_paginator`.

A paginator is stateless; the position in a list lives in a `PageState`, a small JSON-able
dict, so it can be put inside an opaque Relay cursor and resumed later.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin

from connectql.connectors.http import HttpRequest, HttpResponse

PageState = dict[str, Any]


class Paginator(ABC):
    @abstractmethod
    def first(self, limit: int) -> PageState:
        """The state of the first page, for a caller that wants `limit` records in all."""

    @abstractmethod
    def prepare(self, state: PageState, request: HttpRequest, limit: int) -> None:
        """Point `request` at the page `state` names (set query params, or replace the URL).

        `limit` is how many records the caller still wants; never ask for more than the
        spec's page_size.
        """

    @abstractmethod
    def next(
        self, state: PageState, response: HttpResponse, body: Any, records: list[Any]
    ) -> PageState | None:
        """The state of the page after this one, or None when this was the last page."""


def set_param(request: HttpRequest, name: str | None, value: Any) -> None:
    """Set query parameter `name` (replacing any earlier value); None names no parameter."""
    if name is None:
        return
    request.params = [(k, v) for k, v in request.params if k != name]
    request.params.append((name, str(value)))


def as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class UrlPaginator(Paginator):
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
            set_param(request, self.size_param, max(1, min(limit, self.page_size)))

    def next(
        self, state: PageState, response: HttpResponse, body: Any, records: list[Any]
    ) -> PageState | None:
        if not records:
            return None
        url = self.next_url(response, body)
        if not url:
            return None
        return {"url": _joined(response.url, url)}

    @abstractmethod
    def next_url(self, response: HttpResponse, body: Any) -> str | None:
        """The next page's URL from a response, or None at the end."""


@lru_cache(maxsize=256)
def _joined(base: str, url: str) -> str:
    return urljoin(base, url)
