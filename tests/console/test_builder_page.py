"""The console's visual builder in headless Chromium, against our server (with a control plane
over a registry) under uvicorn and the demo bookstore API on 127.0.0.1: build a connector from
an OpenAPI document and from samples, fix a validation error at its line, try an operation,
create the connector and query it in GraphiQL; no request leaves 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from playwright.async_api import Browser, Page

from connectql.control.service import ControlPlane
from connectql.server import assets
from connectql.server.console import render
from connectql.testing import FakeUpstream
from tests.server.browser import LocalPage, chromium
from tests.support import ADMIN_KEY, DEMO_KEY, VIEWER_KEY, control_server, execute

EDITOR = "#spec-yaml"
QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
HEADERS_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
RESULT = "document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue()"


def bookstore_openapi(server: str) -> dict[str, Any]:
    """An OpenAPI document of the demo bookstore API (which serves none): two operations
    the importer takes and a request body it skips."""
    book = {
        "type": "object",
        "required": ["id", "title"],
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "year": {"type": "integer"},
            "price": {"type": "number"},
            "author_id": {"type": "string"},
        },
    }
    ok = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Book"}}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Bookstore", "version": "1.0"},
        "servers": [{"url": server}],
        "components": {
            "securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
            "schemas": {"Book": book},
        },
        "security": [{"key": []}],
        "paths": {
            "/books/{id}": {
                "get": {
                    "operationId": "getBook",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {"200": {"description": "the book", **ok}},
                }
            },
            "/books": {
                "post": {
                    "operationId": "createBook",
                    "requestBody": {"content": {"application/xml": {"schema": {"type": "object"}}}},
                    "responses": {"201": {"description": "created"}},
                }
            },
        },
    }


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@pytest.fixture
async def console(
    tmp_path: Path, bookstore: FakeUpstream
) -> AsyncIterator[tuple[str, ControlPlane]]:
    """Our server with a control plane (egress allowed to 127.0.0.1) and no connector yet."""
    async with control_server(tmp_path) as served:
        yield served


@pytest.fixture
async def openapi_url(bookstore: FakeUpstream) -> AsyncIterator[str]:
    """The bookstore's OpenAPI document, served on 127.0.0.1 (where the API docs would be)."""

    async def document(_: web.Request) -> web.Response:
        return web.json_response(bookstore_openapi(bookstore.url))

    app = web.Application()
    app.router.add_get("/openapi.json", document)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/openapi.json"
    finally:
        await runner.cleanup()


async def open_builder(browser: Browser, url: str, key: str = ADMIN_KEY) -> LocalPage:
    """The builder page, signed in with `key`."""
    local = await LocalPage.open(browser)
    page = local.page
    await page.goto(f"{url}/console/builder")
    await page.fill("#api-key", key)
    await page.click("#sign-in button[type=submit]")
    await page.wait_for_selector("#who:not(:empty)")
    return local


async def yaml_text(page: Page) -> str:
    return str(await page.input_value(EDITOR))


async def wait_valid(page: Page) -> None:
    await page.wait_for_selector("#spec-status.up")


async def selected_line(page: Page) -> int:
    """The line of the editor's selection start (1-based)."""
    return int(
        await page.evaluate(
            "() => { const a = document.querySelector('#spec-yaml');"
            " return a.value.slice(0, a.selectionStart).split('\\n').length; }"
        )
    )


async def fix_problem_at_its_line(page: Page, broken: str, fixed: str) -> None:
    """The problem list shows the line of `broken`; clicking it selects and marks that line,
    and typing `fixed` over the selection makes the spec valid."""
    text = await yaml_text(page)
    line = text.split("\n").index(broken) + 1
    problem = page.locator(f"#spec-problems button.problem[data-line='{line}']")
    await problem.wait_for()
    await problem.click()
    assert await selected_line(page) == line
    gutter = page.locator(f".yaml-editor .gutter div[data-line='{line}']")
    assert await gutter.get_attribute("class") == "bad current"
    await page.keyboard.insert_text(fixed)
    await wait_valid(page)
    assert fixed in (await yaml_text(page)).split("\n")
    assert await page.locator("#spec-problems li").count() == 0


async def try_operation(page: Page, operation: str, args: dict[str, Any]) -> Any:
    """Call `operation` from the Try panel; the shaped result once it is shown."""
    await page.select_option("#try-operation", operation)
    await page.fill("#try-args", json.dumps(args))
    await page.click("#try-run")
    await page.wait_for_selector("#try-status")
    status = await page.inner_text("#try-status")
    assert status == "The call succeeded.", status
    return json.loads(await page.inner_text("#try-result"))


async def create(page: Page) -> str:
    """Create the connector; the message saying so."""
    await page.click("#create-connector")
    await page.wait_for_selector("#created")
    return str(await page.inner_text("#created"))


async def test_builds_a_connector_from_an_openapi_file_and_queries_it_in_graphiql(
    browser: Browser,
    console: tuple[str, ControlPlane],
    bookstore: FakeUpstream,
    tmp_path: Path,
) -> None:
    url, control = console
    local = await open_builder(browser, url)
    page = local.page
    document = tmp_path / "bookstore-openapi.json"
    document.write_text(json.dumps(bookstore_openapi(bookstore.url)))

    # the file is read in the browser (FileReader) and its text sent to importOpenAPI
    await page.set_input_files("#openapi-file", str(document))
    await page.fill("#openapi-connector", "shop")
    await page.click("#import-openapi")
    skipped = page.locator("#skip-report li")
    await skipped.first.wait_for()
    assert await skipped.all_inner_texts() == [
        "POST /books body — request body of type application/xml is not supported"
    ]
    await wait_valid(page)
    text = await yaml_text(page)
    assert "  getBook:\n" in text
    assert await page.locator("details[data-operation='getBook']").count() == 1

    # a typo in the YAML: the problem is listed at its line, and fixed there
    broken = "      type: Boook"
    await page.fill(EDITOR, text.replace("      type: Book\n", broken + "\n", 1))
    await fix_problem_at_its_line(page, broken, "      type: Book")

    await page.fill("[data-config=api_key]", DEMO_KEY)
    assert await page.input_value("[data-config=base_url]") == bookstore.url  # its default
    book = await try_operation(page, "getBook", {"id": "7"})
    assert book["id"] == "7"
    assert book["title"] == "Book 7"
    assert book["author_id"] == "8"  # the upstream's record; GraphQL renames it authorId
    trace = await page.locator("#try-trace tbody tr").all_inner_texts()
    assert len(trace) == 1
    method, template, status, outcome, _ms = trace[0].split("\t")
    assert (method, status, outcome) == ("GET", "200", "ok"), trace
    assert template.endswith("/books/{args.id}"), template
    assert "shop" not in control.stored  # trying stores nothing

    assert (await create(page)).startswith("Created shop (RUNNING)")
    assert "getBook" in await page.inner_text("#created-sdl")
    assert control.stored["shop"].config["api_key"] == DEMO_KEY

    # the link opens GraphiQL with a query of the new connector
    await page.click("#open-graphiql")
    await page.wait_for_selector(QUERY_EDITOR)
    query = await page.evaluate(f"document.querySelector('{QUERY_EDITOR}').CodeMirror.getValue()")
    assert 'getBook(id: "7")' in query, query
    await page.click(HEADERS_EDITOR)
    await page.keyboard.insert_text(json.dumps({"Authorization": f"Bearer {ADMIN_KEY}"}))
    await page.click(".graphiql-execute-button")
    await page.wait_for_function(f"({RESULT}).includes('Book 7')")
    result = json.loads(await page.evaluate(RESULT))
    book = {"id": "7", "title": "Book 7", "year": 1957, "price": 30.9, "authorId": "8"}
    assert result == {"data": {"shop": {"getBook": book}}}
    assert local.off_origin == []


async def test_imports_an_openapi_url_with_its_skip_report(
    browser: Browser, console: tuple[str, ControlPlane], openapi_url: str
) -> None:
    url, _ = console
    local = await open_builder(browser, url)
    page = local.page
    await page.fill("#openapi-url", openapi_url)
    await page.click("#import-openapi")
    await page.wait_for_selector("#skip-report li")
    assert "Imported 2 operations and 1 types." in await page.inner_text("#import-report")
    await wait_valid(page)
    assert await page.inner_text("#spec-status") == "Valid: bookstore, 2 operations, 1 types."
    assert local.off_origin == []


def _in(page: Page, name: str) -> str:
    """The form control bound to the spec path `name` (dotted)."""
    return f"[name='{name}']"


async def rename(page: Page, control: str, to: str) -> None:
    await page.fill(control, to)
    await page.press(control, "Tab")  # a rename applies on change


async def test_builds_a_connector_from_samples_in_the_forms(
    browser: Browser, console: tuple[str, ControlPlane], bookstore: FakeUpstream
) -> None:
    url, control = console
    local = await open_builder(browser, url)
    page = local.page
    await page.fill(
        "#samples textarea", json.dumps({"id": "3", "name": "Author 3", "country": "NL"})
    )
    await page.fill("#sample-type", "Author")
    await page.click("#infer-types")
    await page.wait_for_selector("details[data-key='type:Author']")
    # the skeleton has types but no operation yet: the problem says so, at its line
    problem = page.locator("#spec-problems button.problem")
    await problem.first.wait_for()
    line = (await yaml_text(page)).split("\n").index("operations: {}") + 1
    assert await problem.first.get_attribute("data-line") == str(line)
    assert "operations" in await page.inner_text("#spec-problems")

    await page.fill(_in(page, "connector.name"), "people")
    await page.select_option("#auth-type", "api_key")
    await page.fill(_in(page, "source.auth.name"), "X-Api-Key")
    await page.click("text=Add config key")
    await rename(page, _in(page, "config.key.@name"), "api_key")
    await page.check(_in(page, "config.api_key.required"))
    await page.check(_in(page, "config.api_key.secret"))

    await page.click("text=Add operation")
    await rename(page, _in(page, "operations.newOperation.@name"), "author")
    await page.fill(_in(page, "operations.author.request.path"), "/authors/{args.id}")
    await page.fill(_in(page, "operations.author.response.type"), "Author")
    await page.click("details[data-operation='author'] >> text=Add argument")
    await rename(page, _in(page, "operations.author.args.argument.@name"), "id")
    await page.fill(_in(page, "operations.author.args.id"), "ID!")
    await wait_valid(page)
    spec = yaml.safe_load(await yaml_text(page))
    assert spec["connector"] == {"name": "people"}
    assert spec["config"] == {
        "base_url": {"required": True},
        "api_key": {"required": True, "secret": True},
    }
    assert spec["source"] == {
        "base_url": "{config.base_url}",
        "auth": {"type": "api_key", "key": "{config.api_key}", "name": "X-Api-Key", "in": "header"},
    }
    assert spec["operations"] == {
        "author": {
            "request": {"path": "/authors/{args.id}"},
            "response": {"type": "Author"},
            "args": {"id": "ID!"},
        }
    }
    assert spec["types"]["Author"] == {
        "fields": {"id": "ID!", "name": "String!", "country": "String!"}
    }

    await page.fill("[data-config=base_url]", bookstore.url)
    await page.fill("[data-config=api_key]", DEMO_KEY)
    author = await try_operation(page, "author", {"id": "3"})
    assert author == {"id": "3", "name": "Author 3", "country": "BR"}  # live, not the sample
    assert (await create(page)).startswith("Created people (RUNNING)")
    result = await execute(url, '{ people { author(id: "3") { name country } } }')
    assert result.errors is None, result.errors
    assert result.data == {"people": {"author": {"name": "Author 3", "country": "BR"}}}
    assert control.stored["people"].config == {"base_url": bookstore.url, "api_key": DEMO_KEY}
    assert local.off_origin == []


async def test_forms_and_yaml_follow_each_other(
    browser: Browser, console: tuple[str, ControlPlane]
) -> None:
    url, _ = console
    local = await open_builder(browser, url)
    page = local.page
    await page.select_option("#template", "batch")
    await page.fill("#template-connector", "shop")
    await page.click("#use-template")
    await wait_valid(page)
    assert (await yaml_text(page)).startswith("# Items linked to their owners")
    assert "comments in it are dropped" in await page.inner_text("#comments-note")

    # YAML → forms
    text = await yaml_text(page)
    await page.fill(EDITOR, text.replace("title: Shop}", "title: Corner shop}"))
    await page.wait_for_function(
        "document.querySelector(\"[name='connector.title']\").value === 'Corner shop'"
    )

    # forms → YAML, the editor keeping its scroll position
    await page.evaluate("document.querySelector('#spec-yaml').scrollTop = 90")
    await page.click("details[data-operation='orders'] > summary")
    await page.select_option(_in(page, "operations.orders.pagination.strategy"), "cursor")
    await page.fill(_in(page, "operations.orders.pagination.cursor_path"), "meta.next")
    await page.click("details[data-operation='customer'] > summary")
    await page.fill(_in(page, "operations.customer.batch.max_batch"), "20")
    await page.click("details[data-key='type:Order'] > summary")
    await page.fill(_in(page, "types.Order.fields.total.type"), "Float!")
    await page.fill(_in(page, "types.Order.fields.total.from"), "amount")
    await wait_valid(page)
    spec = yaml.safe_load(await yaml_text(page))
    assert spec["connector"]["title"] == "Corner shop"
    assert spec["operations"]["orders"]["pagination"] == {
        "strategy": "cursor",
        "size_param": "per_page",
        "page_size": 50,
        "cursor_path": "meta.next",
    }
    assert spec["operations"]["customer"]["batch"]["max_batch"] == 20
    assert spec["types"]["Order"]["fields"]["total"] == {"type": "Float!", "from": "amount"}
    assert not (await yaml_text(page)).startswith("#")  # the forms' dump drops comments
    assert await page.evaluate("document.querySelector('#spec-yaml').scrollTop") == 90
    assert local.off_origin == []


async def test_a_viewer_is_told_the_builder_needs_an_admin_key(
    browser: Browser, console: tuple[str, ControlPlane]
) -> None:
    url, _ = console
    local = await open_builder(browser, url, VIEWER_KEY)
    page = local.page
    notice = await page.inner_text("#builder-admin-only")
    assert "needs an admin API key" in notice
    assert await page.locator("#spec-yaml, #create-connector, #import-openapi").count() == 0
    assert local.off_origin == []


def test_the_builder_page_loads_js_yaml_from_the_package_with_its_hash() -> None:
    html = render("/root", "builder")
    version = assets.manifest()["js-yaml"]["version"]
    integrity = assets.integrity("js-yaml", "js-yaml.umd.min.js")
    tag = (
        f'<script src="/root/_connectql/static/js-yaml-{version}/js-yaml.umd.min.js" '
        f'integrity="{integrity}"></script>'
    )
    assert html.index(tag) < html.index("console.js") < html.index("builder.js")
    assert "js-yaml" not in render("/root", "overview")
