"""Management auth (admin and viewer keys) and query limits."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import websockets
from gql import Client
from websockets.typing import Subprotocol

from connectql.demo.upstream import create_bookstore_app
from connectql.testing import FakeUpstream
from tests.support import (
    DEMO_KEY,
    VIEWER_KEY,
    bookstore_runtime,
    control_server,
    execute,
)

MUTATIONS = [
    'mutation { createConnector(spec: "x") { __typename } }',
    'mutation { updateConnector(name: "bookstore", spec: "x") { __typename } }',
    'mutation { configureConnector(name: "bookstore", config: {}) { __typename } }',
    'mutation { startConnector(name: "bookstore") { __typename } }',
    'mutation { stopConnector(name: "bookstore") { __typename } }',
    'mutation { deleteConnector(name: "bookstore") { __typename } }',
    'mutation { rollbackConnector(name: "bookstore", version: 1) { __typename } }',
    'mutation { testConnector(name: "bookstore", operation: "book") { ok } }',
    'mutation { validateSpec(spec: "x") { valid } }',
    'mutation { testSpec(spec: "x", operation: "book") { ok } }',
    'mutation { bookstore { createBook(input: {title: "t", authorId: "1"}) { id } } }',
    'mutation { importOpenAPI(source: "openapi: 3.0.0") { operations } }',
    'mutation { inferTypes(samples: [{}], typeName: "T") { types } }',
    'mutation { generateClient(connector: "bookstore") { writtenTo } }',
    'mutation { generateDocs(connector: "bookstore") { writtenTo } }',
]


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, FakeUpstream]]:
    """A config-file connector (the bookstore) behind a server with auth on."""
    async with FakeUpstream(create_bookstore_app(DEMO_KEY)) as upstream:
        runtime = bookstore_runtime(upstream)
        async with control_server(tmp_path, runtime=runtime) as (url, _):
            yield url, upstream


@pytest.mark.parametrize("key", [None, VIEWER_KEY], ids=["anonymous", "viewer"])
@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.split()[2].split("(")[0] for m in MUTATIONS])
async def test_every_mutation_needs_the_admin_key(
    served: tuple[str, FakeUpstream], key: str | None, mutation: str
) -> None:
    url, upstream = served
    result = await execute(url, mutation, key=key)
    assert result.errors, result
    assert result.errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert upstream.count("POST") == 0


async def test_a_viewer_queries_data_but_not_secrets(served: tuple[str, FakeUpstream]) -> None:
    url, _ = served
    data = await execute(url, '{ bookstore { book(id: "1") { title } } }', key=VIEWER_KEY)
    assert data.errors is None
    status = await execute(
        url, '{ connector(name: "bookstore") { name health { state } } }', key=VIEWER_KEY
    )
    assert status.errors is None
    secret = await execute(url, '{ connector(name: "bookstore") { config } }', key=VIEWER_KEY)
    assert secret.errors[0]["extensions"]["code"] == "FORBIDDEN"
    admin = await execute(url, '{ connector(name: "bookstore") { config } }')
    assert admin.data["connector"]["config"]["api_key"] == "********"


async def test_a_wrong_key_is_refused_over_http_and_websocket(
    served: tuple[str, FakeUpstream],
) -> None:
    url, _ = served
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{url}/graphql",
            json={"query": "{ connectors { name } }"},
            headers={"Authorization": "Bearer not-a-real-key-000000"},
        ) as response,
    ):
        assert response.status == 401
        body = await response.json()
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    async with websockets.connect(
        f"{url.replace('http', 'ws', 1)}/graphql",
        subprotocols=[Subprotocol("graphql-transport-ws")],
    ) as ws:
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"apiKey": "not-a-real-key-0000"}})
        )
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403


DEEP = (
    '{ bookstore { book(id: "1") { '
    + "author { books { nodes { " * 5
    + "id"
    + " } } }" * 5
    + " } } }"
)


async def test_over_deep_queries_are_refused(served: tuple[str, FakeUpstream]) -> None:
    url, upstream = served
    result = await execute(url, DEEP)
    assert "exceeds maximum operation depth" in result.errors[0]["message"]
    assert upstream.count() == 0


async def test_aliases_hidden_in_fragments_are_still_counted(
    served: tuple[str, FakeUpstream],
) -> None:
    url, upstream = served
    spread = " ".join(f'a{i}: book(id: "1") {{ id }}' for i in range(20))
    inline = " ".join(f'b{i}: book(id: "2") {{ id }}' for i in range(20))
    query = (
        "query { bookstore { ...Many ... on BookstoreQuery { " + inline + " } } } "
        "fragment Many on BookstoreQuery { " + spread + " }"
    )
    result = await execute(url, query)
    assert result.errors[0]["message"] == "40 aliases found. Allowed: 30"
    assert upstream.count() == 0
    ok = await execute(
        url, 'query { bookstore { ...F } } fragment F on BookstoreQuery { a: book(id: "1") { id } }'
    )
    assert ok.errors is None


async def test_oversized_queries_are_refused(served: tuple[str, FakeUpstream]) -> None:
    url, _ = served
    huge = "{ connectors { " + " ".join(["name"] * 6000) + " } }"
    result = await execute(url, huge)
    assert "contains more than 5000 tokens" in result.errors[0]["message"]


async def test_introspection_is_not_limited_by_depth(served: tuple[str, FakeUpstream]) -> None:
    url, _ = served
    transport_url = f"{url}/graphql"
    from gql.transport.aiohttp import AIOHTTPTransport

    async with Client(
        transport=AIOHTTPTransport(url=transport_url), fetch_schema_from_transport=True
    ) as session:
        assert session.client.schema is not None
        assert session.client.schema.get_type("BookstoreBook") is not None


async def test_get_queries_are_judged_like_posts(served: tuple[str, FakeUpstream]) -> None:
    url, _ = served
    query = '{ bookstore { book(id: "1") { title } } }'
    async with aiohttp.ClientSession() as http:
        bad = {"Authorization": "Bearer not-a-real-key-000000"}
        async with http.get(f"{url}/graphql", params={"query": query}, headers=bad) as resp:
            assert resp.status == 401
        async with http.get(f"{url}/graphql", params={"query": query}) as resp:
            assert resp.status == 200
            assert (await resp.json())["data"] == {"bookstore": {"book": {"title": "Book 1"}}}
        async with http.get(f"{url}/graphql", headers={"Accept": "text/html", **bad}) as resp:
            assert resp.status == 200  # the GraphiQL page itself carries no data
