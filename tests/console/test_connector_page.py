"""A connector's page in headless Chromium: rolling back to an earlier spec version (forced
past its breaking change), a test call's trace, last errors and rendered docs for an admin;
a viewer gets neither admin controls nor admin data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.async_api import Request

from connectql.testing import FakeUpstream, Fault
from tests.console.conftest import Console
from tests.support import (
    ADMIN_KEY,
    DEMO_KEY,
    VIEWER_KEY,
    bookstore_spec_text,
    control_server,
    execute,
)

CREATE = (
    "mutation($s: String!, $c: JSON) { createConnector(spec: $s, config: $c) "
    "{ ... on ConnectorChanged { applied } } }"
)
UPDATE = (
    'mutation($s: String!) { updateConnector(name: "bookstore", spec: $s) '
    "{ ... on ConnectorChanged { applied } } }"
)
NO_RETRY = {"source.retry": {"max_attempts": 1}}


def _with_extra_operation() -> str:
    """Version 2: version 1 plus `bookAgain`, which a rollback to version 1 removes."""
    raw = yaml.safe_load(bookstore_spec_text(**NO_RETRY))
    raw["operations"]["bookAgain"] = raw["operations"]["book"]
    raw["connector"]["version"] = "0.2.0"
    return yaml.safe_dump(raw, sort_keys=False)


@pytest.fixture
async def two_versions(tmp_path: Path, bookstore: FakeUpstream) -> AsyncIterator[str]:
    """A server whose registry connector `bookstore` has versions 1 and 2 (current)."""
    async with control_server(tmp_path) as (url, _):
        config = {"base_url": bookstore.url, "api_key": DEMO_KEY}
        spec = bookstore_spec_text(**NO_RETRY)
        assert (await execute(url, CREATE, {"s": spec, "c": config})).errors is None
        assert (await execute(url, UPDATE, {"s": _with_extra_operation()})).errors is None
        yield url


async def test_rolling_back_from_the_connector_page(console: Console, two_versions: str) -> None:
    url = two_versions
    local = await console(f"{url}/console/connectors/bookstore", ADMIN_KEY)
    page = local.page
    await page.wait_for_selector("#sdl")
    assert "bookAgain" in (await page.text_content("#sdl") or "")
    # the diff shows what version 2 added
    diff = await page.text_content("#diff") or ""
    assert "+ " in diff
    assert "bookAgain" in diff

    await page.click("tr[data-version='1'] button.rollback")
    # removing bookAgain breaks the schema: the page says so and offers to force it
    refusal = page.locator("#notices [role=alert]")
    await refusal.wait_for()
    assert "bookAgain" in (await refusal.text_content() or "")
    await refusal.locator("button").click()

    await page.wait_for_selector("tr[data-version='1'] .badge")  # v1 is current now
    await page.wait_for_function(
        "!document.querySelector('#sdl').textContent.includes('bookAgain')"
    )
    assert "done" in (await page.text_content("#notices") or "")
    served = await execute(url, '{ connector(name: "bookstore") { registryVersion } }')
    assert served.data == {"connector": {"registryVersion": 1}}
    gone = await execute(url, '{ bookstore { bookAgain(id: "1") { id } } }')
    assert gone.errors
    assert local.off_origin == []


async def test_an_admin_tests_an_operation_and_sees_errors_and_docs(
    console: Console, two_versions: str, bookstore: FakeUpstream
) -> None:
    url = two_versions
    bookstore.faults.add(Fault(status=503, body="busy"), times=1)
    failed = await execute(url, '{ bookstore { book(id: "2") { id } } }')
    assert failed.errors

    local = await console(f"{url}/console/connectors/bookstore", ADMIN_KEY)
    page = local.page
    error_row = page.locator("#last-errors tbody tr")
    await error_row.wait_for()
    assert await error_row.count() == 1
    cells = await error_row.locator("td").all_inner_texts()
    assert cells[1:] == [
        "book",
        failed.errors[0]["extensions"]["code"],
        failed.errors[0]["message"],
    ]
    field = page.locator("tr[data-operation='book'] code")
    assert await field.text_content() == "query { bookstore { book } }"

    await page.select_option("#test-operation", "book")
    await page.fill("#test-args", '{"id": "1"}')
    await page.click("#test")
    trace = page.locator("#test-result table.trace tbody tr")
    await trace.first.wait_for()
    assert (await trace.first.locator("td").all_inner_texts())[:3] == [
        "GET",
        f"{bookstore.url}/books/{{args.id}}",
        "200",
    ]
    assert '"id": "1"' in (await page.text_content("#test-result pre") or "")

    # the docs are rendered from Markdown: headings, tables, code blocks as elements
    await page.wait_for_selector("#docs h2")
    assert await page.locator("#docs table").count() > 0
    assert await page.locator("#docs pre code").count() > 0
    assert "```" not in (await page.text_content("#docs") or "")
    assert local.off_origin == []


ADMIN_ONLY = ["#stop", "#start", "button.rollback", "#test", "#config", "#docs", "#diff"]


async def test_a_viewer_sees_no_admin_control_nor_admin_data(
    console: Console, two_versions: str
) -> None:
    url = two_versions
    sent: list[Any] = []

    def record(request: Request) -> None:
        if request.url.endswith("/graphql") and request.method == "POST":
            sent.append(request.post_data_json["query"])

    local = await console(f"{url}/console/connectors/bookstore", VIEWER_KEY)
    page = local.page
    page.on("request", record)
    await page.reload()
    await page.wait_for_selector("#sdl")
    assert await page.text_content("#who") == "viewer"
    assert await page.locator("#operations tbody tr").count() == 6
    assert await page.locator("#versions tbody tr").count() == 2
    for selector in ADMIN_ONLY:
        assert await page.locator(selector).count() == 0, selector
    # the page did not even ask for what a viewer may not have
    assert sent
    assert not any("config" in q or "generateDocs" in q or " spec" in q for q in sent)
    assert await page.locator("[role=alert]").count() == 0

    overview = await console(f"{url}/console", VIEWER_KEY)
    await overview.page.wait_for_selector('tr[data-connector="bookstore"]')
    assert await overview.page.locator("main button").count() == 0
    assert local.off_origin == []
    assert overview.off_origin == []

    # and the server refuses them anyway
    refused = await execute(url, '{ connector(name: "bookstore") { config } }', key=VIEWER_KEY)
    assert refused.errors
