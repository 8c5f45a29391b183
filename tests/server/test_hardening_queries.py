"""Documents built to make validation or execution explode are refused in milliseconds while
other clients are served; requests that are not GraphQL requests this server runs are 4xx
with a message, never a 500 or INTERNAL; refusals are one log line without the document."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import websockets
from websockets import Subprotocol

from connectql.graph.limits import Limits
from connectql.runtime import Runtime
from connectql.testing import FakeUpstream
from tests.processes import Processes
from tests.support import ADMIN_KEY, VIEWER_KEY, bookstore_runtime, serving

VIEWER = {"Authorization": f"Bearer {VIEWER_KEY}"}
NORMAL = "{ bookstore { books(first: 3) { nodes { title author { name } } } } }"
STOP = 'mutation($f: Boolean!) { stopConnector(name: "x", force: $f) { __typename } }'
BOUND = 30.0
"""Seconds for a whole exchange: generous for a loaded machine, far below what the explosive
documents took before they were refused early (minutes, for the fragment bomb)."""


def fragment_bomb(levels: int) -> str:
    """Each fragment spreads the one below twice: 2**levels fields from ~50 bytes a level."""
    fragments = ["fragment F0 on Query { schemaVersion }"]
    fragments += [f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels)]
    return f"{{ ...F{levels - 1} }} " + " ".join(fragments)


def side_by_side(count: int) -> str:
    spreads = " ".join(f"...S{i}" for i in range(count))
    fragments = " ".join(f"fragment S{i} on Query{{__typename}}" for i in range(count))
    return f"{{ {spreads} }} {fragments}"


EXPLOSIVE = [
    pytest.param(fragment_bomb(40), id="fragments-spreading-fragments"),
    pytest.param("{ connectors { " + "health { state } " * 120 + "} }", id="one-field-repeated"),
    pytest.param(side_by_side(70), id="fragments-side-by-side"),
    pytest.param(" ".join(f"query Q{i}{{schemaVersion}}" for i in range(110)), id="operations"),
    pytest.param(
        "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }", id="fragment-cycle"
    ),
    pytest.param(
        "{ bookstore { books { nodes { author { books { nodes { author { books { nodes "
        "{ title } } } } } } } } } }",
        id="nested-lists-without-first",
    ),
    pytest.param("{ bookstore { books(first: 100000000) { nodes { title } } } }", id="huge-first"),
    pytest.param(
        "{ bookstore { " + "... on BookstoreQuery { " * 110 + "__typename" + " }" * 110 + " } }",
        id="nested-inline-fragments",
    ),
    pytest.param(
        "{ "
        + " ".join(f"s{i}: __schema {{ types {{ fields {{ name }} }} }}" for i in range(25))
        + " }",
        id="aliased-introspection",
    ),
]


async def _post(
    http: aiohttp.ClientSession, url: str, body: Any, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent = {"Content-Type": "application/json", **VIEWER, **(headers or {})}
    async with http.post(f"{url}/graphql", data=data, headers=sent) as response:
        text = await response.text()
        return response.status, json.loads(text) if text.startswith("{") else text


@pytest.mark.parametrize("document", EXPLOSIVE)
async def test_explosive_documents_are_refused_while_others_are_served(
    document: str, bookstore: FakeUpstream, server: str
) -> None:
    assert len(document) < 3000
    async with aiohttp.ClientSession() as attacker, aiohttp.ClientSession() as other:

        async def attack() -> list[Any]:
            answers = []
            for _ in range(10):
                status, body = await _post(attacker, server, {"query": document})
                assert status == 200
                answers.append(body)
            return answers

        async with asyncio.timeout(BOUND):
            attacks = [asyncio.create_task(attack()) for _ in range(3)]
            status, normal = await _post(other, server, {"query": NORMAL})
            answers = [a for batch in await asyncio.gather(*attacks) for a in batch]
    assert status == 200
    assert normal["data"]["bookstore"]["books"]["nodes"][0]["title"]
    for answer in answers:
        assert answer["data"] is None
        assert answer["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        assert answer["errors"][0]["message"]
    assert bookstore.count() == 2  # the normal query's page of books and batch of authors


async def test_cost_counts_first_given_by_a_variable(server: str) -> None:
    query = "query($n: Int) { bookstore { books(first: $n) { nodes { author { books(first: $n) { nodes { title } } } } } } }"  # noqa: E501
    async with aiohttp.ClientSession() as http:
        _, small = await _post(http, server, {"query": query, "variables": {"n": 2}})
        _, large = await _post(http, server, {"query": query, "variables": {"n": 1000}})
        default = query.replace("$n: Int", "$n: Int = 1000")
        _, defaulted = await _post(http, server, {"query": default})
    assert "errors" not in small, small
    for refused in (large, defaulted):
        assert refused["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        assert (
            "1,000" in refused["errors"][0]["message"]
            or "fields" in refused["errors"][0]["message"]
        )


async def test_depth_aliases_and_size_keep_their_messages(server: str) -> None:
    deep = '{ bookstore { book(id: "1") { ' + "author { books(first: 1) { nodes { " * 6
    deep += "id" + " } } }" * 6 + " } } }"
    aliases = (
        "{ bookstore { " + " ".join(f'a{i}: book(id: "1") {{ id }}' for i in range(31)) + " } }"
    )
    async with aiohttp.ClientSession() as http:
        _, too_deep = await _post(http, server, {"query": deep})
        _, too_many = await _post(http, server, {"query": aliases})
        _, too_long = await _post(http, server, {"query": "{ schemaVersion }" + " " * 100_001})
        _, too_many_tokens = await _post(
            http, server, {"query": "{ connectors { " + "name " * 6000 + "} }"}
        )
    assert too_deep["errors"][0]["message"] == "'anonymous' exceeds maximum operation depth of 15"
    assert too_many["errors"][0]["message"] == "31 aliases found. Allowed: 30"
    assert "more than 100000 code points" in too_long["errors"][0]["message"]
    assert "contains more than 5000 tokens" in too_many_tokens["errors"][0]["message"]


async def test_only_small_documents_are_cached(bookstore: FakeUpstream) -> None:
    runtime = bookstore_runtime(bookstore, limits=Limits(max_cached_document=100))
    small = "{ schemaVersion }"
    large = "{ schemaVersion } # " + "padding " * 20
    async with serving(runtime) as url, aiohttp.ClientSession() as http:
        for document in (small, large, small, large):
            status, body = await _post(http, url, {"query": document})
            assert (status, body["data"]) == (200, {"schemaVersion": runtime.version})
    entries = _cache_of(runtime)
    assert small in entries
    assert large not in entries


def _cache_of(runtime: Runtime) -> Any:
    return runtime.schema.documents.entries


def _nested(levels: int, open_: str = "[", close: str = "]") -> str:
    return open_ * levels + "1" + close * levels


MALFORMED = [
    pytest.param(b"null", id="json-null"),
    pytest.param(b'"{ schemaVersion }"', id="json-string"),
    pytest.param(b"42", id="json-number"),
    pytest.param(b'[{"query": "{ schemaVersion }"}]', id="json-list-batch"),
    pytest.param(b'{"query": "{ schemaVersion \xff }"}', id="invalid-utf8"),
    pytest.param(b'{"query": ', id="truncated-json"),
    pytest.param(
        b'{"query": "{ schemaVersion }", "variables": {"v": ' + _nested(10_000).encode() + b"}}",
        id="variables-10000-nested-lists",
    ),
    pytest.param(
        b'{"query": "{ schemaVersion }", "variables": {"v": '
        + _nested(10_000, '{"a": ', "}").encode()
        + b"}}",
        id="variables-10000-nested-objects",
    ),
    pytest.param(
        b'{"query": "query($v: [[Int]]) { schemaVersion }", "variables": {"v": '
        + _nested(500).encode()
        + b"}}",
        id="variables-500-nested-lists",
    ),
    pytest.param(
        json.dumps(
            {"query": 'subscription { connectorHealth(name: "bookstore") { state } }'}
        ).encode(),
        id="subscription-over-post",
    ),
    pytest.param(
        json.dumps({"query": "{ schemaVersion }", "variables": [1]}).encode(),
        id="variables-not-an-object",
    ),
]


@pytest.mark.parametrize("body", MALFORMED)
async def test_malformed_posts_are_400_with_a_message(server: str, body: bytes) -> None:
    async with aiohttp.ClientSession() as http:
        status, answer = await _post(http, server, body)
    assert status == 400, answer
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert answer["errors"][0]["message"]


@pytest.mark.parametrize(
    "params",
    [
        pytest.param(
            {"query": 'mutation { stopConnector(name: "bookstore") { __typename } }'}, id="mutation"
        ),
        pytest.param({"query": "{ schemaVersion }", "variables": "[[[["}, id="variables-not-json"),
        pytest.param(
            {"query": "{ schemaVersion }", "variables": _nested(2000)}, id="variables-deep"
        ),
    ],
)
async def test_bad_gets_are_400_with_a_message(server: str, params: dict[str, str]) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{server}/graphql", params=params, headers=VIEWER) as response,
    ):
        answer = await response.json()
    assert response.status == 400
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_deep_values_in_documents_are_refused_not_crashed(server: str) -> None:
    document = 'mutation($a: JSON) { testConnector(name: "bookstore", operation: "book", '
    literal = (
        document.replace("($a: JSON)", "") + "args: " + _nested(40, "{a: ", "}") + ") { ok } }"
    )
    variable = document + "args: $a) { ok } }"
    async with aiohttp.ClientSession() as http:
        _, from_literal = await _post(http, server, {"query": literal}, _admin())
        _, from_variable = await _post(
            http,
            server,
            b'{"query": '
            + json.dumps(variable).encode()
            + b', "variables": {"a": '
            + _nested(40, '{"a": ', "}").encode()
            + b"}}",
            _admin(),
        )
    assert from_literal["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert from_variable["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def _admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_KEY}"}


SECRET = "sk-live-7b1f0e9d2c4a"
LOG_KEYS = {
    "CONNECTQL_API_KEYS": f"admin:{ADMIN_KEY},viewer:{VIEWER_KEY}",
    "CONNECTQL_STATELESS": "1",
}
CREATE = f'mutation {{ createConnector(spec: "{SECRET}") {{ __typename }} }}'
REFUSED: list[tuple[str, Any]] = [
    ("viewer-mutation", {"query": CREATE}),
    ("literal-of-wrong-type", {"query": STOP.replace("$f", f'"{SECRET}"')}),
    ("variable-of-wrong-type", {"query": STOP, "variables": {"f": SECRET}}),
    ("syntax-error", {"query": f'mutation {{ "{SECRET}" }}'}),
    ("broken-json", f'{{"query": "mutation {{ {SECRET}'.encode()),
    ("too-complex", {"query": fragment_bomb(30) + f" # {SECRET}"}),
]


async def test_refusals_are_one_log_line_without_the_document(
    tmp_path: Path, processes: Processes
) -> None:
    server = await processes.serve(tmp_path, "--demo", env=LOG_KEYS).start()
    async with aiohttp.ClientSession() as http:
        for name, body in REFUSED:
            status, _ = await _post(http, server.url, body, {"X-Request-ID": name})
            assert status in (200, 400)
        get = {"query": CREATE}
        headers = {**VIEWER, "X-Request-ID": "get-mutation"}
        async with http.get(f"{server.url}/graphql", params=get, headers=headers) as response:
            assert response.status == 400
        headers = {"Authorization": f"Bearer {SECRET}", "X-Request-ID": "wrong-key"}
        async with http.get(f"{server.url}/graphql", params=get, headers=headers) as response:
            assert response.status == 401
    await _refused_over_websocket(server.url)
    lines = server.output.splitlines()
    assert not [line for line in lines if SECRET in line]
    assert "Traceback" not in server.output
    for name in [*(n for n, _ in REFUSED), "get-mutation", "wrong-key"]:
        mine = [line for line in lines if f"[{name}]" in line]
        assert len(mine) == 1, (name, mine)
    over_ws = [line for line in lines if "[over-ws]" in line and "refused" in line]
    assert len(over_ws) == 1, lines


async def _refused_over_websocket(url: str) -> None:
    async with (
        asyncio.timeout(BOUND),
        websockets.connect(
            f"{url.replace('http', 'ws', 1)}/graphql",
            subprotocols=[Subprotocol("graphql-transport-ws")],
            additional_headers={"X-Request-ID": "over-ws"},
        ) as ws,
    ):
        await ws.send(json.dumps({"type": "connection_init", "payload": {"apiKey": VIEWER_KEY}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        query = f'mutation {{ stopConnector(name: "x", force: "{SECRET}") {{ __typename }} }}'
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        answer = json.loads(await ws.recv())
        assert answer["type"] == "error"
