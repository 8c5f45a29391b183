"""/console: the web console (overview, connector pages, visual builder).

Server-rendered shells with a little JavaScript each: every page is `page.html` with its own
script (`console/<page>.js`) on top of `console.js`, which holds what the pages share (the API
key kept in the browser session, GraphQL over fetch, subscriptions over graphql-transport-ws,
a DOM helper). The pages and their assets need no key: they hold no data; everything they
show comes from /graphql with the key the user gives. Assets ship in the package, so the
console works offline and no request leaves the server's origin.
"""

from __future__ import annotations

from functools import cache
from html import escape
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route

from connectql.server import assets

ASSETS = Path(__file__).parent / "console"
PREFIX = "/console"
PAGES = {"overview": "Overview", "connector": "Connector", "builder": "Builder"}
"""Page name (its script `console/<name>.js`) → title."""
VENDORED = {"builder": [("js-yaml", "js-yaml.umd.min.js")]}
"""Page name → the vendored scripts (package, file) it loads before its own."""


@cache
def _template() -> str:
    return (ASSETS / "page.html").read_text("utf-8")


def render(root_path: str, page: str, subject: str = "") -> str:
    """The shell of `page` (about `subject`, e.g. a connector's name)."""
    values = {
        "root": escape(root_path),
        "page": page,
        "title": escape(f"{PAGES[page]} {subject}".strip()),
        "subject": escape(subject),
        "vendored": "\n    ".join(
            assets.script(root_path, package, file) for package, file in VENDORED.get(page, [])
        ),
    }
    html = _template()
    for name, value in values.items():
        html = html.replace("{{ " + name + " }}", value)
    return html


async def _overview(request: Request) -> HTMLResponse:
    return HTMLResponse(render(request.scope.get("root_path", ""), "overview"))


async def _connector(request: Request) -> HTMLResponse:
    name = request.path_params["name"]
    return HTMLResponse(render(request.scope.get("root_path", ""), "connector", name))


async def _builder(request: Request) -> HTMLResponse:
    return HTMLResponse(render(request.scope.get("root_path", ""), "builder"))


def routes() -> list[Route | Mount]:
    return [
        Route(PREFIX, _overview, methods=["GET"]),
        Route(PREFIX + "/", _overview, methods=["GET"]),
        Route(PREFIX + "/connectors/{name}", _connector, methods=["GET"]),
        Route(PREFIX + "/builder", _builder, methods=["GET"]),
        # revalidated on each load: they change with the package, under the same URL
        Mount(PREFIX + "/assets", assets.StaticAssets(ASSETS, "no-cache"), name="console-assets"),
    ]
