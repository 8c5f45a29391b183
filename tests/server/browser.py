"""Headless Chromium (Debian's package) driven by playwright, for tests of our pages.

The browser is not playwright's download but /usr/bin/chromium; a test that needs it skips
when it is missing, unless CONNECTQL_REQUIRE_BROWSER=1 (CI), where it fails.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Page, Request, Route, async_playwright

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # no internet here: without these Chromium keeps calling home and logging refusals
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 20_000
"""How long a page may take to show something: generous, for a machine with both cores busy."""


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("CONNECTQL_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + "; CONNECTQL_REQUIRE_BROWSER=1 requires it")
        pytest.skip(reason)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()


class LocalPage:
    """A fresh page that records every request it makes and refuses any that would leave
    127.0.0.1 (`strays`), so a test can assert that a page works offline."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.requests: list[str] = []
        self.strays: list[str] = []
        self.console: list[str] = []
        page.set_default_timeout(TIMEOUT_MS)
        page.on("request", self._seen)
        page.on("console", lambda message: self.console.append(message.text))
        page.on("websocket", lambda ws: self.requests.append(ws.url))

    @classmethod
    async def open(cls, browser: Browser) -> LocalPage:
        context = await browser.new_context()
        local = cls(await context.new_page())
        await context.route(lambda url: not _local(url), local._refuse)
        return local

    def _seen(self, request: Request) -> None:
        self.requests.append(request.url)

    async def _refuse(self, route: Route) -> None:
        self.strays.append(route.request.url)
        await route.abort()

    @property
    def off_origin(self) -> list[str]:
        """Requests to anywhere but 127.0.0.1, refused or not (WebSockets included)."""
        return self.strays + [url for url in self.requests if not _local(url)]


def _local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob") or parts.hostname == "127.0.0.1"
