"""Calls made as the caller: `source.forward_headers`, served over HTTP and WebSocket.

The accounts fake (tests/fakes/accounts.py) answers per token with ETags that name a version,
not a caller, so a response cache shared across callers would hand one caller another's data.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from gql import Client
from gql.transport.websockets import WebsocketsTransport

from connectql.builder.fixtures import _exchange
from connectql.connectors.auth import AuthHooks
from connectql.connectors.callers import Caller
from connectql.connectors.connector import Connector
from connectql.errors import AuthError, ConnectorError
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec, load_spec_text
from connectql.testing import FakeUpstream, Fault
from tests.fakes.accounts import TOKENS, AccountsState, create_accounts_app
from tests.fakes.tracker import TRACKER_TOKEN, create_tracker_app
from tests.processes import run_cli
from tests.support import ADMIN_KEY, _result, execute, serving

DATA = Path(__file__).parent.parent / "fakes" / "data"
SPEC = DATA / "accounts.yaml"
ADA, GRACE = TOKENS["ada"], TOKENS["grace"]
VIEWER = "{ accounts { viewer { login name repoCount } } }"
REPOS = "{ accounts { repos(first: 3) { nodes { name owner { login repoCount } } } } }"


@pytest.fixture
async def accounts() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(create_accounts_app(AccountsState.seeded())) as upstream:
        yield upstream


@pytest.fixture
async def tracker() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(create_tracker_app()) as upstream:
        yield upstream


@pytest.fixture
async def server(accounts: FakeUpstream, tracker: FakeUpstream) -> AsyncIterator[str]:
    runtime = Runtime()
    runtime.add(load_spec(SPEC), {"base_url": accounts.url})
    tracker_config = {"base_url": tracker.url, "token": TRACKER_TOKEN}
    runtime.add(load_spec(DATA / "tracker.yaml"), tracker_config)
    async with serving(runtime) as url:
        yield url


def as_caller(token: str) -> dict[str, str]:
    return {"X-Accounts-Token": token}


def sent_tokens(upstream: FakeUpstream) -> set[str]:
    return {r.headers.get("Authorization", "") for r in upstream.requests}


# --- calls carry the caller's header -----------------------------------------------------


async def test_each_caller_is_sent_upstream_as_itself(server: str, accounts: FakeUpstream) -> None:
    ada = await execute(server, VIEWER, headers=as_caller(ADA))
    grace = await execute(server, VIEWER, headers=as_caller(GRACE))
    assert ada.errors is None
    assert grace.errors is None
    assert ada.data["accounts"]["viewer"]["login"] == "ada"
    assert grace.data["accounts"]["viewer"]["login"] == "grace"
    assert sent_tokens(accounts) == {f"Bearer {ADA}", f"Bearer {GRACE}"}


async def test_a_cookie_an_upstream_sets_is_never_sent_back(accounts: FakeUpstream) -> None:
    """No cookie jar: the upstream's session cookie for one caller must not ride on the next
    caller's call (nor on the same caller's: connectors authenticate with their auth). The
    upstream is named `localhost`: a jar keeps no cookie of an IP address."""
    runtime = Runtime()
    runtime.add(load_spec(SPEC), {"base_url": f"http://localhost:{accounts.port}"})
    session = Fault(status=200, body=b"{}", headers={"Set-Cookie": "session=ada-only; Path=/"})
    accounts.faults.add(session, times=1)
    async with serving(runtime) as url:
        await execute(url, VIEWER, headers=as_caller(ADA))
        grace = await execute(url, VIEWER, headers=as_caller(GRACE))
    assert grace.data["accounts"]["viewer"]["login"] == "grace"
    assert len(accounts.requests) == 2
    assert all("Cookie" not in r.headers for r in accounts.requests)


async def test_pages_links_batches_and_mutations_carry_it(
    server: str, accounts: FakeUpstream
) -> None:
    result = await execute(server, REPOS, headers=as_caller(GRACE))
    assert result.errors is None
    nodes = result.data["accounts"]["repos"]["nodes"]
    assert [n["name"] for n in nodes] == ["cobol", "compiler", "nanosecond"]
    assert {n["owner"]["repoCount"] for n in nodes} == {3}
    assert accounts.count("GET", "/user/repos") == 2  # two pages of two
    assert accounts.count("GET", "/users") == 1  # every owner in one multi-get
    created = await execute(
        server,
        'mutation { accounts { createRepo(name: "flowmatic") { name owner { login } } } }',
        headers=as_caller(GRACE),
    )
    assert created.errors is None
    assert created.data["accounts"]["createRepo"]["owner"] == {"login": "grace"}
    assert sent_tokens(accounts) == {f"Bearer {GRACE}"}


@pytest.mark.parametrize(
    "sent",
    [
        pytest.param({}, id="header-absent"),
        pytest.param({"X-Accounts-Token": ""}, id="header-empty"),
    ],
)
async def test_a_missing_credential_fails_that_field_only(
    server: str, accounts: FakeUpstream, tracker: FakeUpstream, sent: dict[str, str]
) -> None:
    query = """{ accounts { viewer { login } }
                 tracker { user(login: "ada-lovelace") { login } } }"""
    result = await execute(server, query, headers=sent)
    assert result.data["tracker"]["user"] == {"login": "ada-lovelace"}
    assert result.data["accounts"] == {"viewer": None}
    [error] = result.errors
    assert error["path"] == ["accounts", "viewer"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["extensions"]["connector"] == "accounts"
    assert "x-accounts-token" in error["message"]
    assert accounts.requests == []  # nothing went out without the caller's credentials
    assert tracker.count() == 1


async def test_a_refused_token_is_unauthenticated_and_not_echoed(
    server: str, accounts: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bad = "ghp_notAKnownToken0123456789abcdef"
    refused = await execute(server, VIEWER, headers=as_caller(bad))
    assert refused.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    echoed = await execute(server, "{ accounts { echo { login } } }", headers=as_caller(ADA))
    [error] = echoed.errors
    assert "may not read this" in error["message"]
    for token in (bad, ADA):
        assert token not in str(refused.errors) + str(echoed.errors)
        assert token not in caplog.text


# --- isolation -------------------------------------------------------------------------------


async def test_parallel_callers_only_ever_get_their_own_data(
    server: str, accounts: FakeUpstream
) -> None:
    expected = {
        ADA: ("ada", ["engine", "notes", "loom"]),
        GRACE: ("grace", ["cobol", "compiler", "nanosecond"]),
    }
    query = "{ accounts { viewer { login } repos(first: 3) { nodes { name owner { login } } } } }"

    async def one(token: str) -> tuple[str, Any]:
        return token, await execute(server, query, headers=as_caller(token))

    first = [await one(ADA)]  # ada's answers are cached: grace must not be given them
    # then each caller asks many times, interleaved: answers are 304s within a caller
    rounds = first + await asyncio.gather(*(one(t) for _ in range(6) for t in (GRACE, ADA)))
    for token, result in rounds:
        assert result.errors is None
        login, names = expected[token]
        accounts_data = result.data["accounts"]
        assert accounts_data["viewer"]["login"] == login
        nodes = accounts_data["repos"]["nodes"]
        assert [n["name"] for n in nodes] == names
        assert {n["owner"]["login"] for n in nodes} == {login}
    not_modified = [r for r in accounts.requests if r.headers.get("If-None-Match")]
    assert not_modified, "the ETag cache is used within each caller's partition"


async def test_the_etag_cache_is_kept_per_caller(accounts: FakeUpstream) -> None:
    connector = Connector(load_spec(SPEC), {"base_url": accounts.url})
    try:
        ada, grace = Caller({"x-accounts-token": ADA}), Caller({"X-Accounts-Token": GRACE})
        assert (await connector.execute("viewer", {}, caller=ada))["login"] == "ada"
        assert (await connector.execute("viewer", {}, caller=grace))["login"] == "grace"
        assert (await connector.execute("viewer", {}, caller=ada))["login"] == "ada"
        conditional = [r.headers.get("If-None-Match") for r in accounts.requests]
        # grace's first call has no If-None-Match: ada's entry is not hers to revalidate
        assert conditional == [None, None, 'W/"user-v1"']
        assert connector.metrics.cache_hits == 1
    finally:
        await connector.stop()


async def test_a_connector_without_forward_headers_shares_its_cache_as_before(
    accounts: FakeUpstream,
) -> None:
    text = SPEC.read_text().replace("forward_headers: [x-accounts-token]", "")
    text = text.replace("{request.headers.x-accounts-token}", ADA)
    connector = Connector(load_spec_text(text, "shared.yaml"), {"base_url": accounts.url})
    try:
        for caller in (Caller({"x-accounts-token": "ignored"}), None, Caller()):
            assert (await connector.execute("viewer", {}, caller=caller))["login"] == "ada"
        assert connector.metrics.cache_hits == 2
    finally:
        await connector.stop()


# --- WebSocket ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("upgrade", "payload", "login"),
    [
        pytest.param({}, {"headers": {"x-accounts-token": ADA}}, "ada", id="init-payload"),
        pytest.param(as_caller(GRACE), {}, "grace", id="upgrade-headers"),
        pytest.param(
            as_caller(GRACE), {"headers": {"X-Accounts-Token": ADA}}, "ada", id="payload-wins"
        ),
    ],
)
async def test_websocket_operations_forward_the_connection_headers(
    server: str, upgrade: dict[str, str], payload: dict[str, Any], login: str
) -> None:
    transport = WebsocketsTransport(
        url=f"{server.replace('http', 'ws', 1)}/graphql",
        headers=upgrade,
        init_payload={"authorization": f"Bearer {ADMIN_KEY}", **payload},
    )
    async with Client(transport=transport, execute_timeout=30) as session:
        result = await _result(session, VIEWER, None)
    assert result.errors is None
    assert result.data["accounts"]["viewer"]["login"] == login


# --- authorization forwarded -----------------------------------------------------------------

FORWARDS_AUTHORIZATION = (
    SPEC.read_text()
    .replace("[x-accounts-token]", "[authorization]")
    .replace(
        'auth: {type: bearer, token: "{request.headers.x-accounts-token}"}',
        'headers: {Authorization: "{request.headers.authorization}"}',
    )
)


async def test_authorization_is_forwarded_when_the_key_travels_as_x_api_key(
    accounts: FakeUpstream,
) -> None:
    runtime = Runtime()
    runtime.add(load_spec_text(FORWARDS_AUTHORIZATION, "auth.yaml"), {"base_url": accounts.url})
    async with serving(runtime) as url:
        both = {"X-API-Key": ADMIN_KEY, "Authorization": f"Bearer {ADA}"}
        result = await execute(url, VIEWER, key=None, headers=both)
        assert result.errors is None
        assert result.data["accounts"]["viewer"]["login"] == "ada"
        # the connectql key in Authorization is connectql's: it is never sent upstream
        keyed = await execute(url, VIEWER, key=ADMIN_KEY)
        assert keyed.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert "send the request header authorization" in keyed.errors[0]["message"]
    assert sent_tokens(accounts) == {f"Bearer {ADA}"}
    assert all(ADMIN_KEY not in str(r.headers) for r in accounts.requests)


# --- secrets -------------------------------------------------------------------------------------


async def test_recorded_exchanges_and_upstream_messages_redact_forwarded_values(
    accounts: FakeUpstream,
) -> None:
    connector = Connector(load_spec(SPEC), {"base_url": accounts.url})
    recorded: list[dict[str, Any]] = []
    connector.recorder = lambda req, resp: recorded.append(_exchange(connector, req, resp))
    try:
        await connector.execute("viewer", {}, caller=Caller(as_caller(ADA)))
        with pytest.raises(ConnectorError) as failed:
            await connector.execute("echo", {}, caller=Caller(as_caller(ADA)))
    finally:
        await connector.stop()
    assert recorded
    assert ADA not in str(recorded)
    assert "[redacted]" in str(failed.value)
    assert ADA not in str(failed.value)
    assert ADA not in connector.secrets()  # callers' values are held only during their calls


async def test_oauth2_tokens_fed_by_a_caller_header_are_kept_per_caller() -> None:
    from aiohttp import web

    seen: list[str] = []

    async def token(request: web.Request) -> web.Response:
        form = await request.post()
        refresh = str(form["refresh_token"])
        return web.json_response({"access_token": f"at-{refresh}", "expires_in": 3600})

    async def me(request: web.Request) -> web.Response:
        seen.append(request.headers["Authorization"])
        return web.json_response({"login": request.headers["Authorization"][-4:]})

    app = web.Application()
    app.router.add_post("/token", token)
    app.router.add_get("/user", me)
    async with FakeUpstream(app) as upstream:
        text = SPEC.read_text().replace(
            'auth: {type: bearer, token: "{request.headers.x-accounts-token}"}',
            "auth: {type: oauth2, grant: refresh_token, token_url: '{config.base_url}/token',"
            " client_id: cq, refresh_token: '{request.headers.x-accounts-token}'}",
        )
        connector = Connector(load_spec_text(text, "oauth.yaml"), {"base_url": upstream.url})
        try:
            for _ in range(2):
                for who in ("aaaa", "bbbb"):
                    await connector.execute("viewer", {}, caller=Caller(as_caller(who)))
        finally:
            await connector.stop()
        assert upstream.count("POST", "/token") == 2  # one token per caller, then reused
    assert seen == ["Bearer at-aaaa", "Bearer at-bbbb"] * 2


async def test_an_operation_hook_calls_as_the_caller_of_its_operation(
    accounts: FakeUpstream,
) -> None:
    async def both(connector: Connector, op_name: str, args: dict[str, Any]) -> Any:
        first = await connector.call(op_name, "GET", "/user")
        again = await connector.call(op_name, "GET", "/user")
        return {**first, "name": again["login"]}

    hooks = AuthHooks()
    hooks.register_operation("both", both)
    text = SPEC.read_text().replace(
        "  echo:\n", "  hooked:\n    hook: both\n    response: {type: User}\n  echo:\n"
    )
    connector = Connector(
        load_spec_text(text, "hooked.yaml"), {"base_url": accounts.url}, hooks=hooks
    )
    try:
        result = await connector.execute("hooked", {}, caller=Caller(as_caller(GRACE)))
        assert result == {"login": "grace", "name": "grace", "repoCount": 3}
        with pytest.raises(AuthError):
            await connector.execute("hooked", {})
    finally:
        await connector.stop()
    assert sent_tokens(accounts) == {f"Bearer {GRACE}"}


async def test_connectql_test_has_no_caller(tmp_path: Path, accounts: FakeUpstream) -> None:
    text = SPEC.read_text().replace(
        "operations:\n",
        "tests:\n  - {name: me, operation: viewer, fixture: me.json}\noperations:\n",
        1,
    )
    (tmp_path / "accounts.yaml").write_text(text)
    recorded = await asyncio.to_thread(
        run_cli,
        "test",
        "accounts.yaml",
        "--record",
        "--set",
        f"base_url={accounts.url}",
        cwd=tmp_path,
    )
    assert recorded.returncode != 0
    assert "UNAUTHENTICATED" in recorded.stdout + recorded.stderr
    assert "x-accounts-token" in recorded.stdout + recorded.stderr
    assert not (tmp_path / "me.json").exists()
    assert accounts.requests == []
