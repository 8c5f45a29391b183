"""Every pagination strategy across a last short page, an empty page and a page-size cap."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from connectql.connectors.connector import Connector
from connectql.connectors.pagination import parse_link_header
from connectql.spec.models import ConnectorSpec
from connectql.testing import FakeClock, FakeUpstream

UPSTREAM_CAP = 8
"""The fake never returns more than this per page, whatever is asked (as real APIs do)."""


class ItemsApi:
    """One list of items served five ways. `sloppy` keeps offering a next page at the end."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.sloppy = False
        self.sizes: list[int] = []

    def window(self, start: int, size: int) -> list[dict[str, Any]]:
        size = min(size, UPSTREAM_CAP)
        self.sizes.append(size)
        return self.items[start : start + size]

    def more(self, end: int) -> bool:
        return self.sloppy or end < len(self.items)

    async def page(self, request: web.Request) -> web.Response:
        size = int(request.query.get("per_page", "5"))
        page = int(request.query.get("page", "1"))
        chunk = self.window((page - 1) * size, size)
        pages = -(-len(self.items) // size)
        return web.json_response({"data": chunk, "meta": {"pages": pages}})

    async def offset(self, request: web.Request) -> web.Response:
        offset = int(request.query.get("offset", "0"))
        chunk = self.window(offset, int(request.query.get("limit", "5")))
        return web.json_response({"data": chunk, "total": len(self.items)})

    async def offset_untotalled(self, request: web.Request) -> web.Response:
        offset = int(request.query.get("offset", "0"))
        return web.json_response(self.window(offset, int(request.query.get("limit", "5"))))

    async def cursor(self, request: web.Request) -> web.Response:
        start = int(request.query.get("after") or 0)
        chunk = self.window(start, int(request.query.get("limit", "5")))
        end = start + len(chunk)
        cursor = str(end) if self.more(end) else ""
        return web.json_response({"data": chunk, "response_metadata": {"next_cursor": cursor}})

    async def link(self, request: web.Request) -> web.Response:
        size = int(request.query.get("per_page", "5"))
        page = int(request.query.get("page", "1"))
        chunk = self.window((page - 1) * size, size)
        headers = {}
        base = f"{request.url.origin()}{request.path}"
        links = [f'<{base}?page=1&per_page={size}>; rel="first"']
        if self.more((page - 1) * size + len(chunk)):
            links.insert(0, f'<{base}?page={page + 1}&per_page={size}>; rel="next"')
        headers["Link"] = ", ".join(links)
        return web.json_response(chunk, headers=headers)

    async def next_url(self, request: web.Request) -> web.Response:
        start = int(request.query.get("start", "0"))
        size = int(request.query.get("size", "5"))
        chunk = self.window(start, size)
        end = start + len(chunk)
        nxt = f"/next?start={end}&size={size}" if self.more(end) else None
        return web.json_response({"results": chunk, "next": nxt})


@pytest.fixture
async def api() -> AsyncIterator[tuple[FakeUpstream, ItemsApi]]:
    items = ItemsApi()
    up = FakeUpstream()
    up.app.router.add_get("/page", items.page)
    up.app.router.add_get("/offset", items.offset)
    up.app.router.add_get("/offset-untotalled", items.offset_untotalled)
    up.app.router.add_get("/cursor", items.cursor)
    up.app.router.add_get("/link", items.link)
    up.app.router.add_get("/next", items.next_url)
    async with up:
        yield up, items


PAGE_SIZE = 5
OPERATIONS: dict[str, dict[str, Any]] = {
    "page": {
        "request": {"path": "/page"},
        "response": {"type": "[Item!]!", "records": "data"},
        "pagination": {"strategy": "page", "size_param": "per_page"},
    },
    "page_totalled": {
        "request": {"path": "/page"},
        "response": {"type": "[Item!]!", "records": "data"},
        "pagination": {
            "strategy": "page",
            "size_param": "per_page",
            "total_pages_path": "meta.pages",
        },
    },
    "offset": {
        "request": {"path": "/offset"},
        "response": {"type": "[Item!]!", "records": "data"},
        "pagination": {"strategy": "offset", "size_param": "limit", "total_path": "total"},
    },
    "offset_untotalled": {
        "request": {"path": "/offset-untotalled"},
        "response": {"type": "[Item!]!"},
        "pagination": {"strategy": "offset", "size_param": "limit"},
    },
    "cursor": {
        "request": {"path": "/cursor"},
        "response": {"type": "[Item!]!", "records": "data"},
        "pagination": {
            "strategy": "cursor",
            "cursor_param": "after",
            "cursor_path": "response_metadata.next_cursor",
            "size_param": "limit",
        },
    },
    "link": {
        "request": {"path": "/link"},
        "response": {"type": "[Item!]!"},
        "pagination": {"strategy": "link_header", "size_param": "per_page"},
    },
    "next_url": {
        "request": {"path": "/next"},
        "response": {"type": "[Item!]!", "records": "results"},
        "pagination": {"strategy": "next_url", "next_url_path": "next", "size_param": "size"},
    },
}


def connector_for(up: FakeUpstream, page_size: int = PAGE_SIZE) -> Connector:
    operations = {}
    for name, op in OPERATIONS.items():
        pagination = {**op["pagination"], "page_size": page_size}
        operations[name] = {**op, "pagination": pagination}
    spec = ConnectorSpec.model_validate(
        {
            "connector": {"name": "pages"},
            "source": {"base_url": up.url},
            "types": {"Item": {"fields": {"id": "Int!"}}},
            "operations": operations,
        }
    )
    return Connector(spec, clock=FakeClock())


async def walk(connector: Connector, op: str, limit: int = 1000) -> tuple[list[Any], int]:
    """Fetch pages until the paginator says stop; return the records and the page count."""
    paginator = connector.paginator(op)
    assert paginator is not None
    state: dict[str, Any] | None = paginator.first(limit)
    records: list[Any] = []
    pages = 0
    while state is not None and len(records) < limit:
        page = await connector.fetch_page(op, {}, state, limit - len(records))
        records.extend(page.records)
        state = page.next_state
        pages += 1
    return records, pages


ALL = list(OPERATIONS)
# How many calls reach the end of 12 items at 5 per page: 3 when the API says where the end
# is (a total, or no next link/cursor), and also 3 when a short last page ends the list.
# With 10 items (an exact multiple), APIs that give no total need a 3rd call to see an
# empty page.
EXACT_MULTIPLE_CALLS = {
    "page": 3,
    "page_totalled": 2,
    "offset": 2,
    "offset_untotalled": 3,
    "cursor": 2,
    "link": 2,
    "next_url": 2,
}


@pytest.mark.parametrize("op", ALL)
async def test_last_short_page_ends_the_list(api: tuple[FakeUpstream, ItemsApi], op: str) -> None:
    up, items = api
    items.items = [{"id": i} for i in range(12)]
    connector = connector_for(up)
    records, pages = await walk(connector, op)
    await connector.stop()
    assert [r["id"] for r in records] == list(range(12))
    assert pages == 3
    assert up.count() == 3


@pytest.mark.parametrize("op", ALL)
async def test_exact_multiple_stops_at_the_end_or_one_empty_page_after(
    api: tuple[FakeUpstream, ItemsApi], op: str
) -> None:
    up, items = api
    items.items = [{"id": i} for i in range(10)]
    connector = connector_for(up)
    records, _ = await walk(connector, op)
    await connector.stop()
    assert [r["id"] for r in records] == list(range(10))
    assert up.count() == EXACT_MULTIPLE_CALLS[op]


@pytest.mark.parametrize("op", ALL)
async def test_an_empty_page_ends_the_list_even_if_more_is_offered(
    api: tuple[FakeUpstream, ItemsApi], op: str
) -> None:
    up, items = api
    items.items = [{"id": i} for i in range(10)]
    items.sloppy = True  # next links and cursors keep coming
    connector = connector_for(up)
    records, _ = await walk(connector, op)
    await connector.stop()
    assert len(records) == 10
    assert up.count() <= 3


@pytest.mark.parametrize("op", ALL)
async def test_an_empty_list(api: tuple[FakeUpstream, ItemsApi], op: str) -> None:
    up, _ = api
    connector = connector_for(up)
    records, pages = await walk(connector, op)
    await connector.stop()
    assert records == []
    assert pages == 1


@pytest.mark.parametrize("op", ALL)
async def test_never_asks_more_than_page_size_nor_more_than_wanted(
    api: tuple[FakeUpstream, ItemsApi], op: str
) -> None:
    up, items = api
    items.items = [{"id": i} for i in range(30)]
    connector = connector_for(up, page_size=UPSTREAM_CAP)
    records, _ = await walk(connector, op, limit=11)
    await connector.stop()
    assert len(records) >= 11
    assert [r["id"] for r in records[:11]] == list(range(11))
    # Page numbers need a fixed size, and followed URLs keep the first one; the others ask
    # only for what is still wanted.
    fixed = op in ("page", "page_totalled", "link", "next_url")
    assert items.sizes == ([UPSTREAM_CAP, UPSTREAM_CAP] if fixed else [UPSTREAM_CAP, 3])


def test_link_header_parsing() -> None:
    header = (
        '<https://api.example.com/items?page=2>; rel="next", '
        '<https://api.example.com/items?page=9>; rel="last", '
        '<https://api.example.com/items?page=1>; rel="first prev"'
    )
    assert parse_link_header(header) == {
        "next": "https://api.example.com/items?page=2",
        "last": "https://api.example.com/items?page=9",
        "first": "https://api.example.com/items?page=1",
        "prev": "https://api.example.com/items?page=1",
    }
    assert parse_link_header("") == {}
    assert parse_link_header("<x>; title=nothing") == {}
