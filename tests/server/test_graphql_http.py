"""/graphql over plain HTTP (server/graphql_http.py) answers exactly as strawberry's view did.

Each request goes to the server (the lean path, twice: the second is answered from the plan
its bytes cached) and to strawberry's view of the same schema version behind the same guard;
status and body must match. Bodies that are not one JSON object are the lean path's alone
(strawberry's view took a list for a batch and crashed on `null`): test_hardening_queries
covers them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from connectql.server.app import create_app
from connectql.server.graphql_app import GraphQLMount, LiveGraphQL
from connectql.server.guard import Guard
from connectql.testing import FakeUpstream
from connectql.testing.upstream import Fault
from tests import support
from tests.support import ADMIN_KEY, VIEWER_KEY, bookstore_runtime, running

VIEWER = {"Authorization": f"Bearer {VIEWER_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
BOOK = "query($id: ID!) { bookstore { book(id: $id) { id title genre year } } }"
COST = "query($n: Int) { bookstore { books(first: $n) { nodes { author { books(first: $n) { nodes { title } } } } } } }"  # noqa: E501
TWO = "query A { schemaVersion } query B { connectors { name } }"
STOP = 'mutation { stopConnector(name: "nope") { __typename } }'
SUBSCRIBE = 'subscription { connectorHealth(name: "bookstore") { state } }'
FAILING_BOOK = "5"
"""The fake upstream answers 400 for this book: a connector error with its extensions."""


def _nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


POSTS = [
    pytest.param({"query": "{ schemaVersion }"}, VIEWER, id="trivial"),
    pytest.param({"query": BOOK, "variables": {"id": "7"}}, VIEWER, id="one-call-variables"),
    pytest.param(
        {
            "query": '{ bookstore { b: book(id: "3") { __typename ...F } } } '
            "fragment F on BookstoreBook { title author { name } }"
        },
        VIEWER,
        id="alias-fragment-typename-link",
    ),
    pytest.param({"query": BOOK, "variables": {"id": 7.5}}, VIEWER, id="variable-of-wrong-type"),
    pytest.param({"query": BOOK}, VIEWER, id="variable-missing"),
    pytest.param({"query": BOOK, "variables": {"id": FAILING_BOOK}}, VIEWER, id="upstream-error"),
    pytest.param({"query": BOOK, "variables": {"id": "9999"}}, VIEWER, id="upstream-not-found"),
    pytest.param({"query": TWO, "operationName": "B"}, VIEWER, id="operation-name-picks"),
    pytest.param({"query": TWO}, VIEWER, id="operation-name-missing-first-named"),
    pytest.param(
        {"query": "{ schemaVersion } query B { schemaVersion }"},
        VIEWER,
        id="operation-name-missing-first-anonymous",
    ),
    pytest.param({"query": TWO, "operationName": "C"}, VIEWER, id="operation-name-unknown"),
    pytest.param({"query": TWO, "operationName": 5}, VIEWER, id="operation-name-not-a-string"),
    pytest.param({"variables": {}}, VIEWER, id="query-missing"),
    pytest.param({"query": ""}, VIEWER, id="query-empty"),
    pytest.param({"query": None}, VIEWER, id="query-null"),
    pytest.param({"query": 5}, VIEWER, id="query-not-a-string"),
    pytest.param({"query": "{ schemaVersion }", "variables": "x"}, VIEWER, id="variables-string"),
    pytest.param({"query": "{ schemaVersion }", "extensions": [1]}, VIEWER, id="extensions-list"),
    pytest.param(
        {"query": "{ schemaVersion }", "extensions": {"trace": True}}, VIEWER, id="extensions"
    ),
    pytest.param({"query": "{ schemaVersion "}, VIEWER, id="syntax-error"),
    pytest.param({"query": "{ nothingHere }"}, VIEWER, id="validation-error"),
    pytest.param(
        {"query": "{ " + " ".join(f"a{i}: schemaVersion" for i in range(31)) + " }"},
        VIEWER,
        id="too-many-aliases",
    ),
    pytest.param({"query": COST, "variables": {"n": 1000}}, VIEWER, id="cost-of-variables"),
    pytest.param({"query": COST, "variables": {"n": 1}}, VIEWER, id="cost-of-variables-fine"),
    pytest.param({"query": STOP}, VIEWER, id="mutation-as-viewer"),
    pytest.param({"query": STOP}, ADMIN, id="mutation-as-admin"),
    pytest.param({"query": SUBSCRIBE}, VIEWER, id="subscription"),
    pytest.param(
        {"query": "{ schemaVersion }", "variables": {"v": _nested(40)}},
        VIEWER,
        id="variables-too-deep",
    ),
    pytest.param(b'{"query": "{ schemaVersion }"', VIEWER, id="json-truncated"),
    pytest.param({"query": "{ __schema { queryType { name } } }"}, VIEWER, id="introspection"),
]

GETS = [
    pytest.param({"query": "{ schemaVersion }"}, id="trivial"),
    pytest.param({"query": BOOK, "variables": '{"id": "7"}'}, id="one-call-variables"),
    pytest.param({"query": TWO, "operationName": "B"}, id="operation-name-picks"),
    pytest.param({"query": STOP}, id="mutation"),
    pytest.param({"query": SUBSCRIBE}, id="subscription"),
    pytest.param({"query": ""}, id="query-empty"),
    pytest.param({"query": "{ schemaVersion }", "variables": "[[[["}, id="variables-not-json"),
    pytest.param({"query": "{ schemaVersion }", "variables": "[1]"}, id="variables-list"),
    pytest.param({"query": "{ schemaVersion }", "variables": ""}, id="variables-empty"),
    pytest.param({"query": "{ schemaVersion", "extensions": "{}"}, id="syntax-error"),
]


class _ViewOnly:
    """strawberry's view of the schema version live now, for every request."""

    def __init__(self, live: LiveGraphQL) -> None:
        self.live = live

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.live.current()[2](scope, receive, send)


@pytest.fixture
async def clients(bookstore: FakeUpstream) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    """(the server, strawberry's view behind the same guard) for the same runtime."""
    bookstore.faults.add(
        Fault(status=400, body="no", match=lambda r: r.path == f"/books/{FAILING_BOOK}"),
        times=None,
    )
    runtime = bookstore_runtime(bookstore)
    app = create_app(runtime, access=support.test_access())
    live = next(m.kwargs["graphql"] for m in app.user_middleware if m.cls is GraphQLMount)
    limits = runtime.limits
    view = Guard(
        _ViewOnly(live),
        access=support.test_access(),
        max_body_size=limits.max_body_size,
        body_timeout=10.0,
    )
    async with (
        running(app) as url,
        httpx.AsyncClient(base_url=url, timeout=30.0) as lean,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(view), base_url="http://view", timeout=30.0
        ) as old,
    ):
        yield lean, old


def _answer(response: httpx.Response) -> tuple[int, Any, str]:
    return response.status_code, response.json(), response.headers["content-type"]


@pytest.mark.parametrize(("body", "headers"), POSTS)
async def test_posts_are_answered_as_strawberry_did(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
    body: dict[str, Any] | bytes,
    headers: dict[str, str],
) -> None:
    lean, old = clients
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent = {"Content-Type": "application/json", **headers}
    expected = _answer(await old.post("/graphql", content=content, headers=sent))
    for _ in range(2):  # the second from the plan cached for these bytes
        assert _answer(await lean.post("/graphql", content=content, headers=sent)) == expected


@pytest.mark.parametrize("params", GETS)
async def test_gets_are_answered_as_strawberry_did(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], params: dict[str, str]
) -> None:
    lean, old = clients
    url = "/graphql?" + urlencode(params)
    expected = _answer(await old.get(url, headers=VIEWER))
    for _ in range(2):
        assert _answer(await lean.get(url, headers=VIEWER)) == expected


async def test_a_cached_request_runs_against_the_schema_live_when_it_starts(
    bookstore: FakeUpstream,
) -> None:
    runtime = bookstore_runtime(bookstore)
    body = {"query": "{ bookstore { __typename } }"}
    async with (
        running(create_app(runtime, access=support.test_access())) as url,
        httpx.AsyncClient(base_url=url, timeout=30.0) as http,
    ):
        before = (await http.post("/graphql", json=body, headers=VIEWER)).json()
        runtime.set_connectors([])
        after = (await http.post("/graphql", json=body, headers=VIEWER)).json()
    assert before == {"data": {"bookstore": {"__typename": "BookstoreQuery"}}}
    assert after["data"] is None
    assert "Cannot query field 'bookstore'" in after["errors"][0]["message"]


async def test_each_refused_request_is_logged_even_when_cached(
    server: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with httpx.AsyncClient(base_url=server, timeout=30.0) as http:
        for body in ({"query": "{ nothingHere }"}, {"query": SUBSCRIBE}) * 2:
            await http.post("/graphql", json=body, headers=VIEWER)
    refused = [r.getMessage() for r in caplog.records if "request refused" in r.getMessage()]
    assert len(refused) == 4, refused
    assert refused[0] == refused[2]
    assert refused[1] == refused[3]
    assert all("nothingHere" not in line and "connectorHealth" not in line for line in refused)


async def test_uploads_and_the_graphiql_page_stay_with_strawberry(server: str) -> None:
    async with httpx.AsyncClient(base_url=server, timeout=30.0) as http:
        page = await http.get("/graphql", headers={"Accept": "text/html"})
        no_query = await http.get("/graphql", headers={**VIEWER, "Accept": "application/json"})
        form = await http.post("/graphql", data={"operations": "{}"}, headers=VIEWER)
        head = await http.head("/graphql", headers=VIEWER)
        put = await http.put("/graphql", json={"query": "{ schemaVersion }"}, headers=VIEWER)
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert no_query.status_code == 400
    assert no_query.json()["errors"][0]["message"] == "No GraphQL query found in the request"
    assert form.status_code == 400  # not multipart: strawberry's refusal of the content type
    assert form.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert head.status_code == 405
    assert put.status_code == 405
    assert put.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


async def test_an_unexpected_error_is_masked_and_logged_as_a_bug(
    bookstore: FakeUpstream, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = bookstore_runtime(bookstore)

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug holding sk-secret-123")

    monkeypatch.setattr(runtime.connectors["bookstore"], "execute", broken)
    caplog.set_level(logging.INFO)
    body = {"query": BOOK, "variables": {"id": "7"}}
    async with (
        running(create_app(runtime, access=support.test_access())) as url,
        httpx.AsyncClient(base_url=url, timeout=30.0) as http,
    ):
        response = await http.post("/graphql", json=body, headers=VIEWER)
    answer = response.json()
    assert response.status_code == 200
    assert answer["data"] == {"bookstore": {"book": None}}
    assert answer["errors"][0]["message"] == "Internal server error"
    assert answer["errors"][0]["extensions"] == {"code": "INTERNAL"}
    assert answer["errors"][0]["path"] == ["bookstore", "book"]
    assert "sk-secret" not in response.text
    bugs = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in bugs] == ["unexpected error at bookstore.book"]
