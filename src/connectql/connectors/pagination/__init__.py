"""Paginators, one per `pagination.strategy`, chosen by the dispatch table in build_paginator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectql.connectors.pagination.base import PageState, Paginator
from connectql.connectors.pagination.cursor import CursorPaginator
from connectql.connectors.pagination.link_header import LinkHeaderPaginator, parse_link_header
from connectql.connectors.pagination.next_url import NextUrlPaginator
from connectql.connectors.pagination.offset import OffsetPaginator
from connectql.connectors.pagination.page import PagePaginator
from connectql.spec.models import (
    CursorPagination,
    LinkHeaderPagination,
    NextUrlPagination,
    NoPagination,
    OffsetPagination,
    PagePagination,
)

__all__ = ["PageState", "Paginator", "build_paginator", "parse_link_header"]

_STRATEGIES: dict[type[Any], Callable[[Any], Paginator]] = {
    PagePagination: PagePaginator,
    OffsetPagination: OffsetPaginator,
    CursorPagination: CursorPaginator,
    LinkHeaderPagination: LinkHeaderPaginator,
    NextUrlPagination: NextUrlPaginator,
}


def build_paginator(spec: Any) -> Paginator | None:
    """The paginator for an operation's `pagination` model; None for `strategy: none`."""
    if isinstance(spec, NoPagination):
        return None
    return _STRATEGIES[type(spec)](spec)
