"""Who may call, judged once after the request is decoded and before its body is read; how
much and how slowly a client may send; idle connections closed (`connectql serve`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
import websockets
import yaml
from websockets import Subprotocol
from yarl import URL

from connectql.config import TimeoutSettings
from connectql.control.access import AccessControl
from connectql.control.service import ControlPlane
from connectql.server.app import create_app
from connectql.testing import FakeUpstream
from tests.processes import Processes
from tests.support import (
    ADMIN_KEY,
    VIEWER_KEY,
    bookstore_runtime,
    bookstore_spec_text,
    control_server,
    execute,
    running,
)

BOUND = 30.0
"""Seconds any exchange here may take: generous, for a loaded machine."""
QUERY = '{ bookstore { book(id: "1") { title } } }'


def keys(anonymous: str | None) -> AccessControl:
    return AccessControl([("admin", ADMIN_KEY), ("viewer", VIEWER_KEY)], anonymous=anonymous)


@contextlib.asynccontextmanager
async def served(
    upstream: FakeUpstream, anonymous: str | None = None, **options: Any
) -> AsyncIterator[tuple[str, int]]:
    runtime = bookstore_runtime(upstream)
    app = create_app(runtime, control=ControlPlane(runtime), access=keys(anonymous), **options)
    async with running(app) as url:
        yield url, int(url.rsplit(":", 1)[1])


async def exchange(port: int, request: bytes, *, then: bytes = b"") -> tuple[int, bytes]:
    """Send raw bytes and read the answer's status and body (until the server closes)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        async with asyncio.timeout(BOUND):
            writer.write(request)
            await writer.drain()
            if then:
                writer.write(then)
                await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            body = await reader.read(10_000)
    finally:
        writer.close()
    return int(head.split(b" ", 2)[1]), body


# -- the anonymous role, and the one place that judges it -----------------------------------


@pytest.mark.parametrize(
    "query_string",
    [
        pytest.param("query=", id="plain"),
        pytest.param("%71uery=", id="percent-encoded-name"),
        pytest.param("qu%65r%79=", id="partly-encoded-name"),
        pytest.param("x=1&%71uery=", id="second-parameter"),
        pytest.param("query=%7B%20schemaVersion%20%7D&query=", id="twice"),
    ],
)
@pytest.mark.parametrize("accept", ["application/json", "text/html", "*/*"])
async def test_no_key_gets_no_data_however_the_get_is_spelled(
    bookstore: FakeUpstream, query_string: str, accept: str
) -> None:
    async with served(bookstore) as (url, _), aiohttp.ClientSession() as http:
        target = f"{url}/graphql?{query_string}"
        if query_string.endswith("="):
            target += quote(QUERY)
        async with http.get(URL(target, encoded=True), headers={"Accept": accept}) as r:
            body = await r.text()
    assert r.status == 401, body
    assert "Book 1" not in body
    assert bookstore.count() == 0


async def test_no_key_gets_no_data_over_post_or_websocket(bookstore: FakeUpstream) -> None:
    async with served(bookstore) as (url, _), aiohttp.ClientSession() as http:
        async with http.post(f"{url}/graphql", json={"query": QUERY}) as response:
            assert response.status == 401
            assert (await response.json())["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        async with (
            asyncio.timeout(BOUND),
            websockets.connect(
                f"{url.replace('http', 'ws', 1)}/graphql",
                subprotocols=[Subprotocol("graphql-transport-ws")],
            ) as ws,
        ):
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4403
        with pytest.raises(websockets.InvalidStatus) as refused:  # a wrong key in the headers
            async with (
                asyncio.timeout(BOUND),
                websockets.connect(
                    f"{url.replace('http', 'ws', 1)}/graphql",
                    subprotocols=[Subprotocol("graphql-transport-ws")],
                    additional_headers={"Authorization": "Bearer not-a-key-0000000000"},
                ),
            ):
                pass
        assert refused.value.response.status_code == 403
    assert bookstore.count() == 0


async def test_the_graphiql_page_is_public_and_shows_nothing_of_the_schema(
    bookstore: FakeUpstream,
) -> None:
    async with served(bookstore) as (url, _), aiohttp.ClientSession() as http:
        async with http.get(f"{url}/graphql", headers={"Accept": "text/html"}) as response:
            anonymous = await response.text()
            assert response.status == 200
        admin = {"Accept": "text/html", "Authorization": f"Bearer {ADMIN_KEY}"}
        async with http.get(f"{url}/graphql", headers=admin) as response:
            with_key = await response.text()
    assert "<html" in anonymous.lower()
    assert "bookstore" not in anonymous
    assert "bookstore" in with_key


@pytest.mark.parametrize(
    ("anonymous", "public", "expected"),
    [
        pytest.param("viewer", [], 200, id="anonymous-viewer"),
        pytest.param(None, [], 401, id="anonymous-none"),
        pytest.param(None, ["metrics", "docs"], 200, id="anonymous-none-but-public"),
    ],
)
async def test_metrics_and_docs_follow_the_anonymous_policy(
    bookstore: FakeUpstream, anonymous: str | None, public: list[str], expected: int
) -> None:
    async with (
        served(bookstore, anonymous, public=public) as (url, _),
        aiohttp.ClientSession() as http,
    ):
        for path in ("/metrics", "/docs", "/openapi.json"):
            async with http.get(url + path) as response:
                assert response.status == expected, path
        for path in ("/healthz", "/readyz"):
            async with http.get(url + path) as response:
                assert response.status == 200, path
        with_key = {"Authorization": f"Bearer {VIEWER_KEY}"}
        async with http.get(f"{url}/metrics", headers=with_key) as response:
            assert response.status == 200


LITERAL_TOKEN = "tok-literal-5ecret-in-the-spec"


async def test_spec_text_is_for_admins_only(tmp_path: Path, bookstore: FakeUpstream) -> None:
    spec = bookstore_spec_text(**{"source.auth": {"type": "bearer", "token": LITERAL_TOKEN}})
    create = "mutation($s: String!) { createConnector(spec: $s, start: false) { __typename } }"
    read = '{ connector(name: "bookstore") { name spec } }'
    async with control_server(tmp_path) as (url, _):
        created = await execute(url, create, {"s": spec})
        assert created.errors is None, created.errors
        for key in (VIEWER_KEY, None):
            refused = await execute(url, read, key=key)
            assert refused.errors[0]["extensions"]["code"] == "FORBIDDEN"
            assert LITERAL_TOKEN not in json.dumps(refused.data)
        shown = await execute(url, read)
    assert LITERAL_TOKEN in shown.data["connector"]["spec"]


# -- the body: judged before it is read, and bounded ----------------------------------------


def _post_head(path: str, length: int, key: str | None = None, chunked: bool = False) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {length}")
    if key:
        lines.append(f"Authorization: Bearer {key}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.mark.parametrize(
    ("path", "key", "status"),
    [
        pytest.param("/api/connectors", None, 401, id="api-no-key"),
        pytest.param("/api/connectors", "wrong-key-00000000000", 401, id="api-wrong-key"),
        pytest.param("/api/connectors", VIEWER_KEY, 403, id="api-viewer-writes"),
        pytest.param("/api/keys", VIEWER_KEY, 403, id="api-keys-viewer"),
        pytest.param("/graphql", None, 401, id="graphql-no-key"),
    ],
)
async def test_the_key_is_judged_before_the_body_is_read(
    bookstore: FakeUpstream, path: str, key: str | None, status: int
) -> None:
    # the body is announced but never sent: an answer proves nothing waited for it
    async with served(bookstore) as (_, port):
        answer, body = await exchange(port, _post_head(path, 100_000, key))
    assert answer == status
    code = json.loads(body)["code"] if path.startswith("/api") else None
    assert code in (None, "UNAUTHENTICATED", "FORBIDDEN")


@pytest.mark.parametrize("path", ["/graphql", "/api/connectors"])
async def test_oversized_bodies_are_refused_unread(bookstore: FakeUpstream, path: str) -> None:
    async with served(bookstore) as (_, port):
        declared, _ = await exchange(port, _post_head(path, 50_000_000, ADMIN_KEY))
        chunk = b"x" * 65_536
        chunks = (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 40  # 2.6 MB, over the 2 MB
        streamed, body = await exchange(port, _post_head(path, 0, ADMIN_KEY, True), then=chunks)
    assert declared == 413
    assert streamed == 413
    assert b"PAYLOAD_TOO_LARGE" in body


async def test_a_stalled_body_is_answered_408(bookstore: FakeUpstream) -> None:
    async with served(bookstore, "viewer", timeouts=TimeoutSettings(body=1)) as (_, port):
        status, body = await exchange(port, _post_head("/graphql", 100) + b'{"query": ')
    assert status == 408
    assert b"REQUEST_TIMEOUT" in body


# -- idle connections, against `connectql serve` --------------------------------------------

TIMEOUTS = {
    "keep_alive": 1,
    "headers": 2,
    "body": 2,
    "ws_init": 2,
    "ws_ping_interval": 1,
    "ws_ping_timeout": 1,
}


async def _answer_before_close(port: int, request: bytes, trickle: bytes = b"") -> bytes:
    """What the server sends to a connection that sends `request`, then `trickle` a byte
    every half second, until it closes it (bounded: a connection left open fails)."""
    received = b""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        async with asyncio.timeout(BOUND):
            writer.write(request)
            for byte in trickle:
                if reader.at_eof():
                    break
                writer.write(bytes([byte]))
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.5):
                        received += await reader.read(100_000)
            while chunk := await reader.read(100_000):
                received += chunk
    except ConnectionError:
        pass
    finally:
        writer.close()
    return received


async def _ws_closed_without_init(url: str) -> int | None:
    async with (
        asyncio.timeout(BOUND),
        websockets.connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws,
    ):
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    return closed.value.rcvd.code if closed.value.rcvd else None


async def _ws_closed_when_pongs_stop(url: str) -> aiohttp.WSMsgType:
    async with (
        asyncio.timeout(BOUND),
        aiohttp.ClientSession() as http,
        http.ws_connect(url, protocols=["graphql-transport-ws"], autoping=False) as ws,
    ):
        await ws.send_json({"type": "connection_init", "payload": {}})
        assert (await ws.receive_json())["type"] == "connection_ack"
        while True:
            message = await ws.receive()  # pings arrive and go unanswered
            if message.type != aiohttp.WSMsgType.PING:
                return message.type


async def test_idle_connections_are_closed(tmp_path: Path, processes: Processes) -> None:
    config = tmp_path / "connectql.yaml"
    config.write_text(yaml.safe_dump({"server": {"timeouts": TIMEOUTS}, "connectors": []}))
    server = await processes.serve(
        tmp_path, "--config", str(config), env={"CONNECTQL_STATELESS": "1"}
    ).start()
    ws_url = f"{server.url.replace('http', 'ws', 1)}/graphql"
    header = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    stalled = _post_head("/graphql", 50) + b"{"
    cases = {
        "silent": _answer_before_close(server.port, b""),
        "trickle": _answer_before_close(
            server.port, b"", trickle=header + b"X-Slow: " + b"a" * 200
        ),
        "idle": _answer_before_close(server.port, header + b"\r\n"),
        "stalled-body": _answer_before_close(server.port, stalled),
        "ws-no-init": _ws_closed_without_init(ws_url),
        "ws-no-pong": _ws_closed_when_pongs_stop(ws_url),
    }
    results = await asyncio.gather(*cases.values(), return_exceptions=True)
    failed = {
        name: repr(r)
        for name, r in zip(cases, results, strict=True)
        if isinstance(r, BaseException)
    }
    assert not failed, f"not closed in time: {failed}"
    outcomes: list[Any] = list(results)
    assert outcomes[0] == b""  # connected, sent nothing
    assert outcomes[1] == b""  # a header trickled
    assert outcomes[2].startswith(b"HTTP/1.1 200")  # answered, then idle
    assert outcomes[3].startswith(b"HTTP/1.1 408")  # its body stalled
    assert outcomes[4] == 4408  # strawberry: "Connection initialisation timeout"
    assert outcomes[5] in (
        aiohttp.WSMsgType.CLOSE,
        aiohttp.WSMsgType.CLOSED,
        aiohttp.WSMsgType.ERROR,
    )
