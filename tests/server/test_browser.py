"""Our pages in headless Chromium against the real server: GraphiQL and /docs work with no
request leaving 127.0.0.1, and CORS lets exactly the configured origins in."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web
from playwright.async_api import Browser, Page

from connectql.control.access import AccessControl
from connectql.testing import FakeUpstream
from tests.processes import Processes
from tests.server.browser import LocalPage
from tests.support import ADMIN_KEY, bookstore_runtime, execute, serving

QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
HEADERS_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
RESULT = "document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue()"


async def _result_containing(page: Page, text: str) -> Any:
    """The result pane's JSON once it contains `text`."""
    await page.wait_for_function(f"({RESULT}).includes({json.dumps(text)})")
    return json.loads(await page.evaluate(RESULT))


async def test_graphiql_runs_its_example_query_offline(browser: Browser, server: str) -> None:
    local = await LocalPage.open(browser)
    page = local.page
    await page.goto(f"{server}/graphql")
    await page.wait_for_selector(QUERY_EDITOR)
    query = await page.evaluate(f"document.querySelector('{QUERY_EDITOR}').CodeMirror.getValue()")
    assert query == await page.evaluate("config.defaultQuery")
    assert "bookstore {\n    books(first: 5) {\n      nodes {\n        id\n" in query

    await page.click(".graphiql-execute-button")
    result = await _result_containing(page, '"nodes"')
    assert "errors" not in result
    assert [book["id"] for book in result["data"]["bookstore"]["books"]["nodes"]] == [
        "1",
        "2",
        "3",
        "4",
        "5",
    ]
    assert any("/_connectql/static/graphiql-" in url for url in local.requests)
    assert local.off_origin == []


async def test_graphiql_subscription_takes_its_key_from_the_headers_tab(
    browser: Browser, bookstore: FakeUpstream
) -> None:
    # no anonymous role: the subscription runs only if the Headers tab's key reaches the
    # WebSocket's connection_init
    access = AccessControl([("admin", ADMIN_KEY)], anonymous=None)
    async with serving(bookstore_runtime(bookstore), access=access) as url:
        local = await LocalPage.open(browser)
        page = local.page
        await page.goto(f"{url}/graphql")
        await page.click(HEADERS_EDITOR)
        await page.keyboard.insert_text(json.dumps({"Authorization": f"Bearer {ADMIN_KEY}"}))
        await page.click(QUERY_EDITOR)
        await page.keyboard.press("Control+A")
        await page.keyboard.insert_text(
            'subscription { connectorMetrics(name: "bookstore", intervalMs: 100) { calls } }'
        )
        # GraphiQL parses the editor after a short debounce; the parse is what sends a
        # subscription over the WebSocket instead of a POST
        await page.wait_for_timeout(1000)
        await page.keyboard.press("Control+Enter")

        first = await _result_containing(page, '"calls": 0')
        assert first == {"data": {"connectorMetrics": {"calls": 0}}}
        await execute(url, '{ bookstore { book(id: "1") { id } } }')
        later = await _result_containing(page, '"calls": 1')
        assert later == {"data": {"connectorMetrics": {"calls": 1}}}
        assert any(u.startswith("ws://127.0.0.1") for u in local.requests)
        assert local.off_origin == []


async def test_docs_render_swagger_ui_offline(browser: Browser, server: str) -> None:
    local = await LocalPage.open(browser)
    page = local.page
    await page.goto(f"{server}/docs")
    await page.wait_for_selector(".opblock")
    paths = await page.locator(".opblock-summary-path").all_inner_texts()
    assert any(p.replace("\u200b", "") == "/api/connectors" for p in paths), paths
    assert local.off_origin == []


# --- CORS --------------------------------------------------------------------------------

FETCH = """async ([url, key]) => {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: {"Content-Type": "application/json", "Authorization": "Bearer " + key},
      body: JSON.stringify({query: "{ schemaVersion }"}),
    });
    return {status: response.status, body: await response.json()};
  } catch (error) {
    return {error: String(error)};
  }
}"""


@pytest.fixture
async def origins() -> AsyncIterator[tuple[str, str]]:
    """Two origins on 127.0.0.1 serving a blank page: a frontend of another origin."""

    async def blank(_: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><title>frontend</title>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/", blank)
    runner = web.AppRunner(app)
    await runner.setup()
    urls = []
    for _ in range(2):
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        urls.append(f"http://127.0.0.1:{port}")
    try:
        yield urls[0], urls[1]
    finally:
        await runner.cleanup()


async def _fetch_from(browser: Browser, origin: str, graphql: str) -> dict[str, Any]:
    """What a page of `origin` gets from fetch(): status and body, or the error and why."""
    local = await LocalPage.open(browser)
    await local.page.goto(f"{origin}/")
    result: dict[str, Any] = await local.page.evaluate(FETCH, [graphql, ADMIN_KEY])
    result["console"] = local.console
    return result


def _blocked_by_cors(result: dict[str, Any]) -> bool:
    return "Failed to fetch" in result.get("error", "") and any(
        "blocked by CORS policy" in line for line in result["console"]
    )


async def test_cors_lets_configured_origins_call_graphql(
    browser: Browser, origins: tuple[str, str], processes: Processes, tmp_path: Path
) -> None:
    listed, unlisted = origins
    config = {"server": {"cors": {"origins": [listed]}}, "connectors": []}
    (tmp_path / "connectql.yaml").write_text(yaml.safe_dump(config))
    env = {"CONNECTQL_API_KEYS": f"admin:{ADMIN_KEY}"}
    served = await processes.serve(tmp_path, env=env).start()
    graphql = f"{served.url}/graphql"

    allowed = await _fetch_from(browser, listed, graphql)
    assert allowed["status"] == 200, allowed
    assert isinstance(allowed["body"]["data"]["schemaVersion"], int), allowed
    async with aiohttp.ClientSession() as http:
        preflight = {
            "Origin": listed,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        }
        async with http.options(graphql, headers=preflight) as resp:
            assert resp.status == 200
            assert resp.headers["Access-Control-Allow-Origin"] == listed

    refused = await _fetch_from(browser, unlisted, graphql)
    assert _blocked_by_cors(refused), refused


async def test_without_cors_config_other_origins_are_refused(
    browser: Browser, origins: tuple[str, str], server: str
) -> None:
    refused = await _fetch_from(browser, origins[0], f"{server}/graphql")
    assert _blocked_by_cors(refused), refused
