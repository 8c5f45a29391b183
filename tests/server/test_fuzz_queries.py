"""Property-based fuzzing of the query path against the real server (in-process, uvicorn):
whatever the document, variables, body, parameters or headers, the answer is never a 5xx nor
an INTERNAL error, nothing is logged as a bug, and each answer comes within a bounded time."""

from __future__ import annotations

import asyncio
import json
import logging
import string
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import aiohttp
import hypothesis_graphql
import pytest
from graphql import print_schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes
from yarl import URL

from connectql.demo.runner import BOOKSTORE_SPEC
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec
from tests.support import VIEWER_KEY

BOUND = 15.0
"""Seconds one request may take: generous for a loaded machine; no answer may hang."""
FUZZ = settings(
    max_examples=60,
    deadline=None,  # time is bounded per request, with BOUND
    derandomize=True,  # the same examples every run: a failure here is reproducible
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _demo_sdl() -> str:
    runtime = Runtime()
    runtime.add(load_spec(BOOKSTORE_SPEC), {"base_url": "http://127.0.0.1:9", "api_key": "-"})
    return print_schema(runtime.schema.graphql_schema)


SDL = _demo_sdl()
SCALARS = {
    "JSON": st.one_of(
        st.integers().map(nodes.Int),
        st.text(max_size=20).map(nodes.String),
        st.just(nodes.Null),
    )
}
TOKENS = [
    "{", "}", "(", ")", "[", "]", ":", "...", "=", "$v", "$n", "!", "@include(if: $v)", "@skip",
    "query", "mutation", "subscription", "fragment", "F", "on", "Query", "BookstoreQuery",
    "bookstore", "books", "book", "author", "nodes", "edges", "node", "pageInfo", "first",
    "first: 100000", "first: -1", "first: $n", "id", 'id: "1"', "title", "connectors", "name",
    "spec", "__typename", "__schema", "types", "fields", "ofType", "__type(name: \"Query\")",
    "1", "1.5e999", '"x"', '"""block"""', "null", "true", "Int", "String", "JSON", "# c\n",
    "\\u0000", "\ufeff", "schemaVersion", "usage(windowSeconds: -1)", "alias:",
]  # fmt: skip
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
KNOWN = [
    'subscription { connectorHealth(name: "bookstore") { state } }',
    'mutation { stopConnector(name: "bookstore") { __typename } }',
    "{ __schema { types { fields { type { fields { type { name } } } } } } }",
    "{ ...F } fragment F on Query { ...G } fragment G on Query { ...F }",
    "{ connectors { " + "health { state } " * 200 + "} }",
    "{ bookstore { books { nodes { author { books { nodes { author { name } } } } } } } }",
]
documents = st.one_of(
    st.sampled_from(KNOWN),
    st.lists(st.sampled_from(TOKENS), max_size=60).map(" ".join),
    st.text(max_size=200),
    hypothesis_graphql.queries(SDL, custom_scalars=SCALARS),
    hypothesis_graphql.queries(SDL, custom_scalars=SCALARS, mode=hypothesis_graphql.Mode.NEGATIVE),
    hypothesis_graphql.mutations(SDL, custom_scalars=SCALARS),
)
variables = st.one_of(
    st.none(),
    json_values,
    st.fixed_dictionaries({}, optional={"v": json_values, "n": st.integers(), "x": json_values}),
)
header_text = st.text(alphabet=string.printable.strip() + " ", max_size=40)
headers = st.fixed_dictionaries(
    {},
    optional={
        "Content-Type": st.just("application/json")
        | st.sampled_from(
            [
                "application/json",
                "application/json; charset=latin-1",
                "text/plain",
                "application/graphql",
                "multipart/form-data; boundary=x",
                "application/x-www-form-urlencoded",
            ]
        ),
        "Accept": st.sampled_from(["application/json", "text/html", "*/*", "multipart/mixed"]),
        "Authorization": st.one_of(st.just(f"Bearer {VIEWER_KEY}"), header_text),
        "X-API-Key": header_text,
        "X-Request-ID": header_text,
    },
)
bodies = st.one_of(
    st.fixed_dictionaries(
        {"query": documents},
        optional={
            "variables": variables,
            "operationName": st.none() | st.text(max_size=10) | json_values,
            "extensions": json_values,
        },
    ).map(lambda body: json.dumps(body).encode()),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.sampled_from([b"", b"{", b"null", b"[]", b"[{}]", b'"{ schemaVersion }"', b"42", b"{}"]),
    st.binary(max_size=200),
    st.binary(max_size=8).map(lambda junk: b'{"query": "{ schemaVersion ' + junk + b' }"}'),
    st.integers(1, 5000).map(
        lambda n: (
            b'{"query": "{ schemaVersion }", "variables": {"v": ' + b"[" * n + b"]" * n + b"}}"
        )
    ),
)


@pytest.fixture
def bug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[list[logging.LogRecord]]:
    """Records at ERROR and above: a bug (INTERNAL) or an exception in the ASGI app."""
    caplog.set_level(logging.WARNING)
    uvicorn_errors = logging.getLogger("uvicorn.error")  # uvicorn's own config: no propagation
    uvicorn_errors.addHandler(caplog.handler)
    try:
        yield caplog.records
    finally:
        uvicorn_errors.removeHandler(caplog.handler)


async def _answered(response: aiohttp.ClientResponse) -> None:
    assert response.status < 500, await response.text()
    if response.content_type == "application/json":
        answer: Any = json.loads(await response.read())
        errors = answer.get("errors") if isinstance(answer, dict) else None
        for error in errors or ():
            assert (error.get("extensions") or {}).get("code") != "INTERNAL", error


def _no_bugs(records: list[logging.LogRecord]) -> None:
    assert not [r.getMessage() for r in records if r.levelno >= logging.ERROR]


@FUZZ
@given(body=bodies, sent=headers)
async def test_posts(
    server: str, bug_logs: list[logging.LogRecord], body: bytes, sent: dict[str, str]
) -> None:
    async with (
        asyncio.timeout(BOUND),
        aiohttp.ClientSession() as http,
        http.post(f"{server}/graphql", data=body, headers=sent) as response,
    ):
        await _answered(response)
    _no_bugs(bug_logs)


@FUZZ
@given(document=documents, values=variables, sent=headers)
async def test_valid_json_requests(
    server: str, bug_logs: list[logging.LogRecord], document: str, values: Any, sent: dict[str, str]
) -> None:
    body = {"query": document, "variables": values}
    sent = {**sent, "Content-Type": "application/json"}
    async with (
        asyncio.timeout(BOUND),
        aiohttp.ClientSession() as http,
        http.post(f"{server}/graphql", json=body, headers=sent) as response,
    ):
        await _answered(response)
    _no_bugs(bug_logs)


parameter_names = st.sampled_from(
    ["query", "%71uery", "Query", "variables", "operationName", "extensions", "x"]
)


@FUZZ
@given(
    params=st.lists(
        st.tuples(parameter_names, st.one_of(documents, json_values.map(json.dumps))), max_size=4
    ),
    sent=headers,
)
async def test_gets(
    server: str,
    bug_logs: list[logging.LogRecord],
    params: list[tuple[str, str]],
    sent: dict[str, str],
) -> None:
    query = "&".join(f"{name}={quote(value)}" for name, value in params)
    async with asyncio.timeout(BOUND), aiohttp.ClientSession() as http:
        url = URL(f"{server}/graphql?{query}", encoded=True)
        async with http.get(url, headers=sent) as response:
            await _answered(response)
    _no_bugs(bug_logs)


messages = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("subscribe"), "id": st.text(max_size=5) | json_values},
        optional={
            "payload": st.one_of(
                json_values,
                st.fixed_dictionaries(
                    {"query": documents},
                    optional={"variables": variables, "operationName": json_values},
                ),
            )
        },
    ),
    st.fixed_dictionaries({"type": st.sampled_from(["ping", "pong", "complete", "nonsense"])}),
    json_values,
)


@FUZZ
@given(sent=st.lists(messages, min_size=1, max_size=3))
async def test_websocket_messages(
    server: str, bug_logs: list[logging.LogRecord], sent: list[Any]
) -> None:
    url = f"{server.replace('http', 'ws', 1)}/graphql"
    async with (
        asyncio.timeout(BOUND),
        aiohttp.ClientSession() as http,
        http.ws_connect(url, protocols=["graphql-transport-ws"]) as ws,
    ):
        await ws.send_json({"type": "connection_init", "payload": {"apiKey": VIEWER_KEY}})
        assert (await ws.receive_json())["type"] == "connection_ack"
        for message in [*sent, {"type": "ping"}]:  # the pong: every message was handled
            if ws.closed:
                break
            await ws.send_str(json.dumps(message))
        while (reply := await ws.receive()).type == aiohttp.WSMsgType.TEXT:
            if json.loads(reply.data).get("type") == "pong":
                break
    # the server may close a socket that sent nonsense: with a protocol code, not 1006/1011
    assert ws.close_code is None or ws.close_code == 1000 or 4400 <= ws.close_code < 4500, (
        ws.close_code
    )
    _no_bugs(bug_logs)
