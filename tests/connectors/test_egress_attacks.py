"""SSRF past the egress policy: a connector created at run time, and the OpenAPI importer,
never reach a refused address, whatever form the host is written in and whichever URL leads
there (token endpoint, redirect hop, pagination link, upload URL, `$ref`).

The allowed upstream is `upstream.test` (allowlisted by name, resolving to 127.0.0.1 through
the policy's injected DNS); the attacker's listener is another FakeUpstream on 127.0.0.1 and
must see no request at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
import yaml
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from connectql.cli.builder import _fetch
from connectql.connectors.egress import EgressConnector, EgressPolicy, Resolve
from connectql.errors import ConfigError, Forbidden
from connectql.testing import FakeUpstream
from tests.support import control_server, execute

CLIENT_SECRET = "client-secret-0123456789"
TOKEN = "bearer-token-0123456789"
DNS = {"upstream.test": ["127.0.0.1"], "attacker.test": ["127.0.0.1"]}

HOST_FORMS = [
    pytest.param("127.0.0.1", id="dotted"),
    pytest.param("127.1", id="short"),
    pytest.param("2130706433", id="decimal"),
    pytest.param("0x7f000001", id="hex"),
    pytest.param("0177.0.0.1", id="octal"),
    pytest.param("[::1]", id="ipv6-loopback"),
    pytest.param("[::ffff:127.0.0.1]", id="ipv4-mapped-ipv6"),
    pytest.param("0.0.0.0", id="unspecified"),
    pytest.param("[::]", id="ipv6-unspecified"),
    pytest.param("localhost", id="localhost"),
    pytest.param("localhost.", id="localhost-fqdn"),
    pytest.param("attacker.test", id="name-resolving-to-loopback"),
]


def dns(mapping: dict[str, list[str]]) -> Resolve:
    """The policy's resolver: `mapping` first, then the system's."""

    async def resolve(host: str) -> list[str]:
        name = host.rstrip(".").lower()
        if name in mapping:
            return mapping[name]
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
        return sorted({str(info[4][0]) for info in infos})

    return resolve


class Victim:
    """The allowed upstream. Its token endpoint, pages, upload ticket and redirects lead to
    `lead` (the attacker's origin in the attacks, its own in the control test)."""

    def __init__(self) -> None:
        self.lead = ""
        self.app = web.Application()
        self.app.router.add_post("/token", self.token)
        self.app.router.add_get("/items/{id}", self.item)
        self.app.router.add_get("/items", self.items)
        self.app.router.add_get("/files.getUploadURLExternal", self.ticket)
        self.app.router.add_post("/upload", self.upload)
        self.app.router.add_post("/files.completeUploadExternal", self.complete)
        self.app.router.add_get("/openapi.json", self.redirect("/hop"))
        self.app.router.add_get("/hop", self.redirect(None))
        self.app.router.add_get("/doc.json", self.document)

    async def token(self, request: web.Request) -> web.Response:
        return web.json_response({"access_token": TOKEN, "expires_in": 3600})

    async def item(self, request: web.Request) -> web.Response:
        return web.json_response({"id": request.match_info["id"]})

    async def items(self, request: web.Request) -> web.Response:
        if request.query.get("page") == "2":
            return web.json_response({"items": [{"id": "3"}, {"id": "4"}], "next": None})
        link = f"{self.lead}/items?page=2"
        return web.json_response(
            {"items": [{"id": "1"}, {"id": "2"}], "next": link},
            headers={"Link": f'<{link}>; rel="next"'},
        )

    async def ticket(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "upload_url": f"{self.lead}/upload", "file_id": "F1"})

    async def upload(self, request: web.Request) -> web.Response:
        return web.Response(text="OK - 11")

    async def complete(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "files": [{"id": "F1", "title": "a.txt"}]})

    def redirect(self, to: str | None) -> Any:
        async def handler(request: web.Request) -> web.Response:
            raise web.HTTPFound(to or f"{self.lead}/doc.json")

        return handler

    async def document(self, request: web.Request) -> web.Response:
        return web.json_response(openapi_document({"type": "string"}))


def openapi_document(schema: dict[str, Any]) -> dict[str, Any]:
    ok = {"description": "ok", "content": {"application/json": {"schema": schema}}}
    plain = {"description": "ok", "content": {"application/json": {"schema": {"type": "string"}}}}
    return {
        "openapi": "3.0.0",
        "info": {"title": "Pets", "version": "1"},
        "servers": [{"url": "https://pets.example.com"}],
        "paths": {
            "/pets": {"get": {"operationId": "getPets", "responses": {"200": ok}}},
            "/health": {"get": {"operationId": "health", "responses": {"200": plain}}},
        },
    }


def victim_spec(auth: dict[str, Any], allow: list[str], name: str = "victim") -> str:
    return yaml.safe_dump(
        {
            "spec_version": 1,
            "connector": {"name": name},
            "config": {
                "base_url": {"required": True},
                "token_url": {},
                "secret": {"secret": True},
            },
            "source": {"base_url": "{config.base_url}", "auth": auth, "allow_hosts": allow},
            "types": {"Item": {"fields": {"id": "ID!"}}, "File": {"fields": {"id": "ID!"}}},
            "operations": {
                "item": {
                    "args": {"id": "ID!"},
                    "request": {"path": "/items/{args.id}"},
                    "response": {"type": "Item"},
                },
                "linked": {
                    "request": {"path": "/items"},
                    "response": {"type": "[Item!]!", "records": "items"},
                    "pagination": {"strategy": "link_header", "size_param": "n", "page_size": 2},
                },
                "nextUrl": {
                    "request": {"path": "/items"},
                    "response": {"type": "[Item!]!", "records": "items"},
                    "pagination": {
                        "strategy": "next_url",
                        "next_url_path": "next",
                        "size_param": "n",
                        "page_size": 2,
                    },
                },
                "upload": {
                    "kind": "mutation",
                    "args": {"channel": "ID!", "filename": "String!", "content": "String!"},
                    "hook": "slack_upload_file",
                    "response": {"type": "File!"},
                },
            },
        },
        sort_keys=False,
    )


OAUTH2 = {
    "type": "oauth2",
    "grant": "client_credentials",
    "token_url": "{config.token_url}",
    "client_id": "victim",
    "client_secret": "{config.secret}",
}
BEARER = {"type": "bearer", "token": "{config.secret}"}

QUERIES = {
    "token": '{ victim { item(id: "1") { id } } }',
    "link-header": "{ victim { linked(first: 4) { nodes { id } } } }",
    "next-url": "{ victim { nextUrl(first: 4) { nodes { id } } } }",
    "upload": 'mutation { victim { upload(channel: "C1", filename: "a.txt", content: "x") '
    "{ id } } }",
}
IMPORT = (
    "mutation($s: String!) { importOpenAPI(source: $s, dryRun: true) "
    "{ operations skipped { where reason } } }"
)


@pytest.fixture
async def attacker() -> AsyncIterator[FakeUpstream]:
    """Answers anything as if it were the upstream; it must never be asked."""

    async def anything(request: web.Request) -> web.Response:
        body = {"access_token": "stolen", "items": [{"id": "x"}], "ok": True, "files": []}
        return web.json_response(body)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    async with FakeUpstream(app) as listener:
        yield listener


@pytest.fixture
async def victim() -> AsyncIterator[tuple[Victim, FakeUpstream]]:
    fake = Victim()
    async with FakeUpstream(fake.app) as upstream:
        yield fake, upstream


@contextlib.asynccontextmanager
async def guarded(tmp_path: Path, policy: EgressPolicy | None = None) -> AsyncIterator[str]:
    """Our server; connectors created at run time may reach `upstream.test` only."""
    async with control_server(tmp_path) as (url, control):
        control.egress = policy or EgressPolicy(["upstream.test"], resolve=dns(DNS))
        control.runtime.egress = control.egress
        yield url


async def create(url: str, spec: str, config: dict[str, str]) -> None:
    created = await execute(
        url,
        "mutation($s: String!, $c: JSON) { createConnector(spec: $s, config: $c) { __typename } }",
        {"s": spec, "c": config},
    )
    assert created.errors is None, created.errors


def assert_refused(result: Any) -> None:
    assert result.errors, result.data
    error = result.errors[0]
    assert error["extensions"]["code"] == "FORBIDDEN", error
    assert "refused by the egress policy" in error["message"], error
    shown = json.dumps([result.data, result.errors])
    assert CLIENT_SECRET not in shown
    assert TOKEN not in shown


def spec_and_config(
    path: str, lead: str, upstream: str, name: str = "victim"
) -> tuple[str, dict[str, str]]:
    if path == "token":
        config = {"base_url": upstream, "token_url": f"{lead}/token", "secret": CLIENT_SECRET}
        return victim_spec(OAUTH2, [], name), config
    # allow_hosts names the attacker's host: it must not override the operator's policy
    allow = [urlsplit(lead).netloc]
    return victim_spec(BEARER, allow, name), {"base_url": upstream, "secret": TOKEN}


@pytest.mark.parametrize("host", HOST_FORMS)
@pytest.mark.parametrize("path", ["token", "link-header", "next-url", "upload"])
async def test_connector_urls_cannot_reach_a_refused_address(
    tmp_path: Path,
    victim: tuple[Victim, FakeUpstream],
    attacker: FakeUpstream,
    path: str,
    host: str,
) -> None:
    fake, upstream = victim
    fake.lead = f"http://{host}:{attacker.port}"
    spec, config = spec_and_config(path, fake.lead, f"http://upstream.test:{upstream.port}")
    async with guarded(tmp_path) as url:
        await create(url, spec, config)
        result = await execute(url, QUERIES[path])
    assert_refused(result)
    assert attacker.count() == 0


@pytest.mark.parametrize("host", HOST_FORMS)
async def test_the_importer_follows_no_redirect_off_the_policy(
    tmp_path: Path, victim: tuple[Victim, FakeUpstream], attacker: FakeUpstream, host: str
) -> None:
    fake, upstream = victim
    fake.lead = f"http://{host}:{attacker.port}"
    async with guarded(tmp_path) as url:
        source = f"http://upstream.test:{upstream.port}/openapi.json"
        result = await execute(url, IMPORT, {"s": source})
    assert_refused(result)
    assert upstream.count() == 2  # both hops of the chain were followed
    assert attacker.count() == 0


@pytest.mark.parametrize(
    "host",
    [
        pytest.param("127.0.0.1", id="dotted"),
        pytest.param("0x7f000001", id="hex"),
        pytest.param("[::ffff:127.0.0.1]", id="ipv4-mapped-ipv6"),
        pytest.param("0.0.0.0", id="unspecified"),
    ],
)
async def test_the_cli_import_follows_no_redirect_off_the_policy(
    victim: tuple[Victim, FakeUpstream], attacker: FakeUpstream, host: str
) -> None:
    fake, upstream = victim
    fake.lead = f"http://{host}:{attacker.port}"
    # the operator named localhost: that host is trusted, where it redirects to is not
    with pytest.raises(ConfigError, match="refused by the egress policy"):
        await asyncio.to_thread(_fetch, f"http://localhost:{upstream.port}/openapi.json")
    assert upstream.count() == 2
    assert attacker.count() == 0


@pytest.mark.parametrize("host", HOST_FORMS)
async def test_a_remote_ref_is_never_fetched(
    tmp_path: Path, attacker: FakeUpstream, host: str
) -> None:
    document = openapi_document({"$ref": f"http://{host}:{attacker.port}/schemas.json#/Pet"})
    async with guarded(tmp_path) as url:
        result = await execute(url, IMPORT, {"s": json.dumps(document)})
    assert result.errors is None, result.errors
    reasons = [s["reason"] for s in result.data["importOpenAPI"]["skipped"]]
    assert any("external reference" in r for r in reasons), reasons
    assert attacker.count() == 0


async def test_a_name_that_rebinds_to_loopback_after_the_check_is_refused(
    tmp_path: Path, attacker: FakeUpstream
) -> None:
    answers = iter([["93.184.216.34"]])  # public when created; loopback ever after

    async def rebinding(host: str) -> list[str]:
        return next(answers, ["127.0.0.1"])

    async with guarded(tmp_path, EgressPolicy(resolve=rebinding)) as url:
        await create(
            url,
            victim_spec(BEARER, []),
            {"base_url": f"http://rebind.test:{attacker.port}", "secret": TOKEN},
        )
        result = await execute(url, QUERIES["token"])
    assert_refused(result)
    assert attacker.count() == 0


class LyingResolver(AbstractResolver):
    """Answers 127.0.0.1 for every name without asking the policy."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host, host="127.0.0.1", port=port, family=socket.AF_INET, proto=0, flags=0
            )
        ]

    async def close(self) -> None:
        pass


async def test_the_address_connected_to_is_checked_whatever_resolved_it(
    attacker: FakeUpstream,
) -> None:
    connector = EgressConnector(EgressPolicy(), resolver=LyingResolver())
    async with aiohttp.ClientSession(connector=connector) as session:
        with pytest.raises(Forbidden, match=r"public\.example\.com \(resolves to 127\.0\.0\.1\)"):
            await session.get(f"http://public.example.com:{attacker.port}/")
    assert attacker.count() == 0


async def test_the_allowed_upstream_is_reached_by_every_path(
    tmp_path: Path, victim: tuple[Victim, FakeUpstream]
) -> None:
    """The control: the same flows work when they lead to the allowed host."""
    fake, upstream = victim
    fake.lead = f"http://upstream.test:{upstream.port}"
    async with guarded(tmp_path) as url:
        await create(url, *spec_and_config("token", fake.lead, fake.lead, "oauth"))
        token = await execute(url, QUERIES["token"].replace("victim", "oauth"))
        assert token.data == {"oauth": {"item": {"id": "1"}}}, token.errors
        await create(url, *spec_and_config("link-header", fake.lead, fake.lead))
        for path, field in (("link-header", "linked"), ("next-url", "nextUrl")):
            nodes = (await execute(url, QUERIES[path])).data["victim"][field]["nodes"]
            assert [n["id"] for n in nodes] == ["1", "2", "3", "4"]
        uploaded = await execute(url, QUERIES["upload"])
        assert uploaded.data == {"victim": {"upload": {"id": "F1"}}}, uploaded.errors
        imported = await execute(url, IMPORT, {"s": f"{fake.lead}/openapi.json"})
        assert imported.errors is None, imported.errors
        assert imported.data["importOpenAPI"]["operations"] == 2
