"""Fixtures of the console tests: headless Chromium, and the console opened with a key."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from playwright.async_api import Browser

from tests.server.browser import LocalPage, chromium

Console = Callable[[str, str], Awaitable[LocalPage]]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@pytest.fixture
def console(browser: Browser) -> Console:
    """`await console(url, key)`: a page at `url` (a console page), signed in with `key`."""

    async def open_signed_in(url: str, key: str) -> LocalPage:
        local = await LocalPage.open(browser)
        await local.page.goto(url)
        await local.page.fill("#api-key", key)
        await local.page.click("#sign-in button[type=submit]")
        await local.page.wait_for_selector("#who[data-role]")
        return local

    return open_signed_in
