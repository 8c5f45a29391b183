"""The README's builder section, run through the installed `connectql` as a user runs it.

The commands block runs line by line against a fake shop API on 127.0.0.1 that serves its
own OpenAPI description; only the placeholder URL is swapped for the fake's. The spec and
error examples are checked by `connectql validate`, the egress block is loaded as a config.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
import shlex
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

from connectql.spec.loader import load_spec
from connectql.testing import FakeUpstream
from tests.processes import run_cli
from tests.readme_blocks import block

PLACEHOLDER = "https://api.example.com"
TOKEN = "shop-token-0123456789"
ORDERS = [
    {
        "id": f"o-{i}",
        "total": i * 2.5,
        "status": "shipped" if i % 3 else "open",
        "customer_id": str(i % 7 + 1),
        "note": None if i % 2 else f"gift {i}",
    }
    for i in range(1, 121)
]
CUSTOMERS = {str(i): {"id": str(i), "name": f"Customer {i}", "email": None} for i in range(1, 8)}


def shop_openapi() -> dict[str, Any]:
    """The shop's description, OpenAPI 3.1 as FastAPI writes it (`anyOf` with null)."""
    nullable_string = {"anyOf": [{"type": "string"}, {"type": "null"}]}

    def ref(name: str) -> dict[str, str]:
        return {"$ref": f"#/components/schemas/{name}"}

    def ok(schema: dict[str, Any]) -> dict[str, Any]:
        return {"200": {"description": "ok", "content": {"application/json": {"schema": schema}}}}

    def page_of(name: str) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["items"],
            "properties": {"items": {"type": "array", "items": ref(name)}},
        }

    return {
        "openapi": "3.1.0",
        "info": {"title": "Shop API", "version": "1.0.0"},
        "servers": [{"url": PLACEHOLDER}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Order": {
                    "type": "object",
                    "required": ["id", "total", "status", "customer_id"],
                    "properties": {
                        "id": {"type": "string"},
                        "total": {"type": "number"},
                        "status": {"type": "string", "enum": ["open", "shipped"]},
                        "customer_id": {"type": "string"},
                        "note": nullable_string,
                    },
                },
                "Customer": {
                    "type": "object",
                    "required": ["id", "name"],
                    "properties": {
                        "id": {"type": "string"},
                        "name": {"type": "string"},
                        "email": nullable_string,
                    },
                },
            },
        },
        "paths": {
            "/orders": {
                "get": {
                    "operationId": "orders",
                    "parameters": [
                        {"name": "page", "in": "query", "schema": {"type": "integer"}},
                        {
                            "name": "per_page",
                            "in": "query",
                            "schema": {"type": "integer", "maximum": 50},
                        },
                    ],
                    "responses": ok(page_of("Order")),
                }
            },
            "/customers": {
                "get": {
                    "operationId": "customers",
                    "parameters": [{"name": "ids", "in": "query", "schema": {"type": "string"}}],
                    "responses": ok(page_of("Customer")),
                }
            },
            "/customers/{id}": {
                "get": {
                    "operationId": "customer",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": ok(ref("Customer")),
                }
            },
        },
    }


def shop_app() -> web.Application:
    """The shop: its description is public, the API wants `Authorization: Bearer TOKEN`."""

    @web.middleware
    async def bearer(request: web.Request, handler: Any) -> web.StreamResponse:
        given = request.headers.get("Authorization", "")
        if request.path != "/openapi.json" and not hmac.compare_digest(given, f"Bearer {TOKEN}"):
            return web.json_response({"message": "bad token"}, status=401)
        response: web.StreamResponse = await handler(request)
        return response

    async def description(_: web.Request) -> web.Response:
        return web.json_response(shop_openapi())

    async def orders(request: web.Request) -> web.Response:
        page, size = int(request.query.get("page", "1")), int(request.query.get("per_page", "30"))
        return web.json_response({"items": ORDERS[(page - 1) * size : page * size]})

    async def customers(request: web.Request) -> web.Response:
        wanted = request.query.get("ids", "").split(",")
        return web.json_response({"items": [CUSTOMERS[i] for i in wanted if i in CUSTOMERS]})

    async def customer(request: web.Request) -> web.Response:
        found = CUSTOMERS.get(request.match_info["id"])
        return web.json_response(found) if found else web.json_response({}, status=404)

    app = web.Application(middlewares=[bearer])
    app.router.add_get("/openapi.json", description)
    app.router.add_get("/orders", orders)
    app.router.add_get("/customers", customers)
    app.router.add_get("/customers/{id}", customer)
    return app


def readme_commands() -> list[list[str]]:
    """The builder-commands block as argument lists, in order; a line with an optional
    `[--flag]` runs twice: without it, then with it."""
    commands = []
    for line in block("builder-commands").splitlines():
        optional = re.findall(r"\s\[(--[\w-]+)\]", line)
        words = shlex.split(re.sub(r"\s\[--[\w-]+\]", "", line), comments=True)
        if words:
            commands.append(words)
        if optional:
            commands.append(words + optional)
    return commands


def hand_edits(spec: Path) -> None:
    """What the user adds to the imported spec: the README's `tests:` section, and the
    `batch:` section its batch test needs (the importer does not propose batching)."""
    raw = yaml.safe_load(spec.read_text())
    raw["operations"]["customer"]["batch"] = {
        "key": "id",
        "mode": "request",
        "request": {"path": "/customers", "query": {"ids": "{keys}"}},
        "records": "items",
        "match_on": "id",
    }
    raw["tests"] = yaml.safe_load(block("builder-tests-section"))["tests"]
    spec.write_text(yaml.safe_dump(raw, sort_keys=False))


async def save_samples(url: str, folder: Path) -> None:
    """Two pages of orders saved as files, as a user saves them with curl."""
    folder.mkdir()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        for page in (1, 2):
            params = {"page": str(page), "per_page": "50"}
            async with http.get(f"{url}/orders", params=params) as response:
                assert response.status == 200
                (folder / f"orders-{page}.json").write_bytes(await response.read())


async def test_the_builder_commands_as_written(tmp_path: Path) -> None:
    commands = readme_commands()
    assert [c[1] for c in commands] == [
        "new",
        "import",
        "infer",
        "infer",  # [--write]
        "test",  # --record
        "test",  # offline
        "generate",
        "generate",  # [--check]
        "generate",
    ]
    spec = tmp_path / "shop.yaml"
    async with FakeUpstream(shop_app()) as shop:
        for command in commands:
            args = [word.replace(PLACEHOLDER, shop.url) for word in command[1:]]
            if args[0] == "infer" and not (tmp_path / "samples").exists():
                await save_samples(shop.url, tmp_path / "samples")
            if "--record" in args:
                hand_edits(spec)
            args = [a for word in args for a in (_glob(tmp_path, word) or [word])]
            calls_before = shop.count()
            done = await asyncio.to_thread(run_cli, *args, cwd=tmp_path, env={"SHOP_TOKEN": TOKEN})
            assert done.returncode == 0, (command, done.stdout, done.stderr)
            check(tmp_path, args, done.stdout + done.stderr)
            if args[0] != "import" and "--record" not in args:
                assert shop.count() == calls_before, f"{command} called the API"


def _glob(folder: Path, word: str) -> list[str]:
    """What the shell makes of `samples/*.json`."""
    return sorted(str(p.relative_to(folder)) for p in folder.glob(word)) if "*" in word else []


def check(folder: Path, args: list[str], output: str) -> None:
    """That a command did what the README says it does."""
    spec = folder / "shop.yaml"
    match args:
        case ["new", *_]:
            assert load_spec(spec).name == "shop"
        case ["import", *_]:
            imported = load_spec(spec)
            assert imported.name == "shop"  # from the title "Shop API"
            assert sorted(imported.operations) == ["customer", "customers", "orders"]
            assert imported.types["Customer"].fields["email"].type == "String"  # anyOf null
            names = json.loads((folder / "shop.lock.json").read_text())["names"]
            assert names["op:GET /orders"] == "orders"
            assert "imported 3 operations" in output
        case ["infer", *rest]:
            assert "Order:" in output
            assert "Order.status: type (OrderStatus! → String!)" in output  # the difference
            assert ("wrote" in output) == ("--write" in rest)
            load_spec(spec)
        case ["test", _, "--record", *_]:
            for fixture in ("fixtures/orders.json", "fixtures/customers.json"):
                assert f"recorded {fixture}" in output
                assert TOKEN not in (folder / fixture).read_text()
        case ["test", _]:
            assert "ok   orders to the last page (3 requests)" in output
            assert "2 passed, 0 failed" in output
        case ["generate", "client", *_]:
            assert (folder / "clients" / "shop_client").is_dir()
        case ["generate", "docs", *_]:
            docs = (folder / "docs" / "shop.md").read_text()
            assert docs.startswith("# Shop API")
            assert '"name": "Customer 3"' in docs  # an example response from the fixtures
        case _:
            raise AssertionError(f"the README has a command this test does not know: {args}")


def test_the_spec_reference_and_its_errors_example_validate(tmp_path: Path) -> None:
    (tmp_path / "github.yaml").write_text(block("spec-reference"))
    with_errors = yaml.safe_load(block("spec-reference"))
    with_errors["operations"]["issues"]["errors"] = yaml.safe_load(block("spec-errors-example"))[
        "errors"
    ]
    (tmp_path / "errors.yaml").write_text(yaml.safe_dump(with_errors, sort_keys=False))
    done = run_cli("validate", "github.yaml", "errors.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "github.yaml: ok (github, 2 operations)",
        "errors.yaml: ok (github, 2 operations)",
    ]


def test_the_egress_config_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "connectql.yaml").write_text(block("egress-config"))
    done = run_cli("schema", "print", "--config", "connectql.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "type Query" in done.stdout
