"""The overview in headless Chromium: a connector's health follows its upstream going down and
coming back, live, and its charts fill from the metrics stream; nothing leaves 127.0.0.1."""

from __future__ import annotations

import asyncio
from pathlib import Path

from connectql.demo.upstream import create_bookstore_app
from connectql.testing import FakeUpstream
from tests.console.conftest import Console
from tests.support import (
    DEMO_KEY,
    VIEWER_KEY,
    bookstore_spec_text,
    control_server,
    eventually,
    execute,
)

CREATE = (
    "mutation($s: String!, $c: JSON) { createConnector(spec: $s, config: $c) "
    "{ ... on ConnectorChanged { applied } } }"
)
BOOK = '{ bookstore { book(id: "1") { id } } }'
ROW = 'tr[data-connector="bookstore"]'


def quick_breaker_spec() -> str:
    """No retries and a short breaker cool-down: health moves as fast as the calls."""
    return bookstore_spec_text(
        **{
            "source.circuit_breaker": {"failure_threshold": 3, "cool_down": 0.5},
            "source.retry": {"max_attempts": 1},
        }
    )


async def test_the_overview_follows_an_upstream_going_down_and_back_live(
    console: Console, tmp_path: Path
) -> None:
    upstream = FakeUpstream(create_bookstore_app(DEMO_KEY))
    await upstream.start()
    try:
        async with control_server(tmp_path) as (url, _):
            config = {"base_url": upstream.url, "api_key": DEMO_KEY}
            created = await execute(url, CREATE, {"s": quick_breaker_spec(), "c": config})
            assert created.errors is None
            await execute(url, BOOK)

            local = await console(f"{url}/console", VIEWER_KEY)
            page = local.page
            await page.wait_for_selector(f"{ROW} .badge.health-up")
            assert await page.text_content("#schema-version") != "…"

            await upstream.stop()  # connections are now refused
            for _ in range(4):
                assert (await execute(url, BOOK)).errors
            # no reload: the health subscription turns the row red
            await page.wait_for_selector(f"{ROW} .badge.health-down")
            # from the metrics stream, a tick later: open, or half-open after the cool-down
            await page.wait_for_selector(f"{ROW} :is(.breaker-open, .breaker-half_open)")

            await upstream.start()  # the same port again
            await asyncio.sleep(0.6)  # the breaker's cool-down

            async def up_again() -> bool:
                await execute(url, BOOK)
                return await page.locator(f"{ROW} .badge.health-up").count() == 1

            await eventually(up_again)
            # the charts were drawn from the stream: requests were made, so the line has points
            rate = await page.get_attribute(f"{ROW} path.line-rate", "d")
            assert rate
            assert rate.startswith("M")
            assert local.off_origin == []
            assert any(u.startswith("ws://127.0.0.1") for u in local.requests)
    finally:
        await upstream.stop()
