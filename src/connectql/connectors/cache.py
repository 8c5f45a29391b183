"""Conditional GETs: remember each response's ETag and serve a 304 from what was stored.

One cache per connector, keyed by method, URL and query, and by the caller's identity when
the call forwards caller headers (`partition`: one caller's stored answer is never served to
another), kept to `max_entries` by least-recent use. GitHub does not count a 304 against the
rate limit.
"""

from __future__ import annotations

from collections import OrderedDict

from connectql.connectors.http import HttpRequest, HttpResponse

_Key = tuple[str, str, tuple[tuple[str, str], ...], str]


class ETagCache:
    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[_Key, HttpResponse] = OrderedDict()

    @staticmethod
    def _key(request: HttpRequest, partition: str = "") -> _Key:
        return request.method, request.url, tuple(request.params), partition

    def lookup(self, request: HttpRequest, partition: str = "") -> HttpResponse | None:
        """The stored response for a GET, after adding If-None-Match to `request`."""
        if request.method != "GET":
            return None
        key = self._key(request, partition)
        stored = self._entries.get(key)
        if stored is None:
            return None
        self._entries.move_to_end(key)
        request.headers["If-None-Match"] = stored.headers["ETag"]
        return stored

    def store(self, request: HttpRequest, response: HttpResponse, partition: str = "") -> None:
        if request.method != "GET" or response.status != 200 or "ETag" not in response.headers:
            return
        key = self._key(request, partition)
        self._entries[key] = response
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
