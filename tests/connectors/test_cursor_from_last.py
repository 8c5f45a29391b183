"""Cursor pagination whose cursor is the last record's id (Stripe's `starting_after`), ended
by the body's `has_more` flag, an empty page, or a cursor that does not move."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from pydantic import ValidationError

from connectql.connectors.connector import Connector
from connectql.spec.models import ConnectorSpec, CursorPagination
from connectql.testing import FakeClock, FakeUpstream

CAP = 4
"""The fake's page-size cap, as Stripe's `limit` caps at 100."""


class StripeLike:
    def __init__(self, n: int) -> None:
        self.items = [{"id": f"cus_{i:03d}", "n": i} for i in range(n)]
        self.honest = True
        """False: `has_more` is left out, so only an empty page ends the list."""

    async def list(self, request: web.Request) -> web.Response:
        after = request.query.get("starting_after")
        start = next((i + 1 for i, c in enumerate(self.items) if c["id"] == after), 0)
        chunk = self.items[start : start + min(int(request.query.get("limit", "10")), CAP)]
        body: dict[str, Any] = {"object": "list", "data": chunk}
        if self.honest:
            body["has_more"] = start + len(chunk) < len(self.items)
        return web.json_response(body)


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeUpstream, StripeLike]]:
    api = StripeLike(10)
    up = FakeUpstream()
    up.app.router.add_get("/v1/customers", api.list)
    async with up:
        yield up, api


def connector(url: str, **pagination: Any) -> Connector:
    spec = ConnectorSpec.model_validate(
        {
            "connector": {"name": "stripe"},
            "source": {"base_url": url},
            "types": {"Customer": {"fields": {"id": "ID!", "n": "Int!"}}},
            "operations": {
                "customers": {
                    "request": {"path": "/v1/customers"},
                    "response": {"type": "[Customer!]!", "records": "data"},
                    "pagination": {
                        "strategy": "cursor",
                        "cursor_param": "starting_after",
                        "cursor_from_last": "id",
                        "size_param": "limit",
                        "page_size": CAP,
                        **pagination,
                    },
                }
            },
        }
    )
    return Connector(spec, clock=FakeClock())


@pytest.mark.parametrize(
    ("honest", "has_more_path", "calls"),
    [
        pytest.param(True, "has_more", 3, id="has-more-false-ends-the-list"),
        pytest.param(False, None, 4, id="without-has-more-an-empty-page-ends-it"),
    ],
)
async def test_the_last_records_id_is_the_next_cursor(
    fake: tuple[FakeUpstream, StripeLike], honest: bool, has_more_path: str | None, calls: int
) -> None:
    up, api = fake
    api.honest = honest
    conn = connector(up.url, has_more_path=has_more_path)
    try:
        records = await conn.fetch_records("customers", {}, 100)
    finally:
        await conn.stop()
    assert [r["n"] for r in records] == list(range(10))
    sent = [r.query.get("starting_after") for r in up.requests]
    assert sent[: calls - 1] == [None, "cus_003", "cus_007"][: calls - 1]
    assert len(up.requests) == calls


@pytest.mark.parametrize(
    "pagination",
    [
        pytest.param({}, id="neither"),
        pytest.param({"cursor_path": "next", "cursor_from_last": "id"}, id="both"),
    ],
)
def test_a_cursor_comes_from_one_place(pagination: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="one of cursor_path or cursor_from_last"):
        CursorPagination.model_validate({"strategy": "cursor", **pagination})
