"""The paginator interface: one subclass per `pagination.strategy`, built by `build_paginator`.

A paginator is stateless; the position in a list lives in a `PageState`, a small JSON-able
dict, so it can be put inside an opaque Relay cursor and resumed later.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

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
