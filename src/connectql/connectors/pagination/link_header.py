"""`Link` header pagination (RFC 8288), as GitHub and many REST APIs do it."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from connectql.connectors.http import HttpResponse
from connectql.connectors.pagination.base import UrlPaginator
from connectql.spec.models import LinkHeaderPagination

_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]+)*)")
_REL = re.compile(r"""rel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))""", re.IGNORECASE)


def parse_link_header(value: str) -> dict[str, str]:
    """RFC 8288 `Link` header → {rel: url}; a link with several rels is listed under each."""
    return dict(_parsed(value))


@lru_cache(maxsize=256)
def _parsed(value: str) -> tuple[tuple[str, str], ...]:
    """A page's header is parsed once: the same page is asked for again and again."""
    links: dict[str, str] = {}
    for match in _LINK.finditer(value):
        rel = _REL.search(match.group(2))
        if rel is None:
            continue
        for name in (rel.group(1) or rel.group(2) or "").split():
            links.setdefault(name.lower(), match.group(1).strip())
    return tuple(links.items())


class LinkHeaderPaginator(UrlPaginator):
    def __init__(self, spec: LinkHeaderPagination) -> None:
        self.spec = spec
        self.size_param = spec.size_param
        self.page_size = spec.page_size

    def next_url(self, response: HttpResponse, body: Any) -> str | None:
        links: dict[str, str] = {}
        for header in response.headers.getall("Link", []):
            links.update(parse_link_header(header))
        return links.get(self.spec.rel.lower())
