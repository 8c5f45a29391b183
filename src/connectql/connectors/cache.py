"""Conditional GETs: remember each response's ETag and serve a 304 from what was stored.

One cache per connector (one credential set), keyed by method, URL and query, kept to
`max_entries` by least-recent use. GitHub does not count a 304 against the rate limit.
"""

from __future__ import annotations

from collections import OrderedDict

from connectql.connectors.http import HttpRequest, HttpResponse


class ETagCache:
    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str, tuple[tuple[str, str], ...]], HttpResponse]
        self._entries = OrderedDict()

    @staticmethod
    def _key(request: HttpRequest) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        return request.method, request.url, tuple(request.params)

    def lookup(self, request: HttpRequest) -> HttpResponse | None:
        """The stored response for a GET, after adding If-None-Match to `request`."""
        if request.method != "GET":
            return None
        key = self._key(request)
        stored = self._entries.get(key)
        if stored is None:
            return None
        self._entries.move_to_end(key)
        request.headers["If-None-Match"] = stored.headers["ETag"]
        return stored

    def store(self, request: HttpRequest, response: HttpResponse) -> None:
        if request.method != "GET" or response.status != 200 or "ETag" not in response.headers:
            return
        key = self._key(request)
        self._entries[key] = response
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
