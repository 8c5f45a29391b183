"""Screenshots of the console's pages at 1400x900, for the README:

    python benchmarks/console_screenshots.py [--out docs]

Starts a server with a few connectors and traffic (console_server.py), opens each page in
Debian's headless Chromium signed in as admin, and writes console-overview.png,
console-connector.png and console-builder.png into `--out`.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

import aiohttp
from playwright.async_api import Page, async_playwright

from connectql.testing import Fault
from console_server import ADMIN_KEY, ConsoleServer, console_server

CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1400, "height": 900}
WARM_UP_SECONDS = 20
"""Traffic before the first picture, so the charts have a few ticks to show."""
FAILING_BOOK = 13
"""The upstream answers 503 for this book: some errors to show."""


async def _sign_in(page: Page, url: str) -> None:
    await page.goto(f"{url}/console")
    await page.fill("#api-key", ADMIN_KEY)
    await page.click("#sign-in button[type=submit]")
    await page.wait_for_selector("#who[data-role]")


async def _overview(page: Page, served: ConsoleServer, out: Path) -> None:
    await page.goto(f"{served.url}/console")
    await page.wait_for_selector("tr[data-connector] .badge")
    await asyncio.sleep(WARM_UP_SECONDS)
    # a schema change for the feed: a rollback to version 1, then forward to version 2
    for version in (1, 2):
        await page.evaluate(
            """v => CQ.gql(`mutation($v: Int!) {
                 rollbackConnector(name: "bookstore", version: $v) { __typename } }`, {v})""",
            version,
        )
    await page.wait_for_selector("#schema-feed li")
    await asyncio.sleep(2)
    await page.screenshot(path=out / "console-overview.png")


async def _connector(page: Page, served: ConsoleServer, out: Path) -> None:
    async with aiohttp.ClientSession() as http:
        await served.query(http, "bookstore", FAILING_BOOK)
    await page.goto(f"{served.url}/console/connectors/bookstore")
    await page.wait_for_selector("#sdl")
    await page.select_option("#test-operation", "book")
    await page.fill("#test-args", '{"id": "1"}')
    await page.click("#test")
    await page.wait_for_selector("#test-result table.trace")
    await page.wait_for_selector("#docs h2")
    await page.screenshot(path=out / "console-connector.png")


async def _builder(page: Page, served: ConsoleServer, out: Path) -> None:
    await page.goto(f"{served.url}/console/builder")
    await page.get_by_role("button", name="Use template").click()  # forms and YAML filled
    await page.wait_for_function("document.querySelector('.yaml-editor textarea').value")
    await page.wait_for_load_state("networkidle")
    await asyncio.sleep(1)
    await page.screenshot(path=out / "console-builder.png")


async def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as directory:
        async with console_server(Path(directory)) as served, async_playwright() as playwright:
            served.upstream.faults.add(
                Fault(status=503, body="busy", match=lambda r: r.path == f"/books/{FAILING_BOOK}"),
                times=None,
            )
            traffic = asyncio.create_task(served.traffic())
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--headless", "--no-sandbox"]
            )
            try:
                page = await browser.new_page(viewport=VIEWPORT)  # type: ignore[arg-type]
                await _sign_in(page, served.url)
                for shoot in (_overview, _connector, _builder):
                    await shoot(page, served, out)
                    print(f"wrote {out}/console-{shoot.__name__.strip('_')}.png")
            finally:
                await browser.close()
                traffic.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent.parent / "docs")
    asyncio.run(main(parser.parse_args().out))
