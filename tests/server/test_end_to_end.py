"""The demo connector served by our app under uvicorn, queried with gql over HTTP and WS."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
import yaml

from connectql.demo.runner import BOOKSTORE_SPEC
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec_text
from connectql.testing import FakeUpstream, Fault
from tests.support import DEMO_KEY, bookstore_runtime, execute, execute_ws, serving

NESTED_50 = """
{ bookstore { books(first: 50) { nodes { id title author { id name } } } } }
"""


async def test_one_call_query_over_http(server: str, bookstore: FakeUpstream) -> None:
    result = await execute(server, '{ bookstore { book(id: "7") { id title genre year } } }')
    assert result.errors is None
    assert result.data == {
        "bookstore": {"book": {"id": "7", "title": "Book 7", "genre": "HISTORY", "year": 1957}}
    }
    assert bookstore.count() == 1


async def test_query_over_websocket(server: str) -> None:
    result = await execute_ws(server, '{ bookstore { book(id: "2") { title } } }')
    assert result.data == {"bookstore": {"book": {"title": "Book 2"}}}


async def test_nested_list_with_request_batch_makes_two_calls(
    server: str, bookstore: FakeUpstream
) -> None:
    result = await execute(server, NESTED_50)
    assert result.errors is None
    nodes = result.data["bookstore"]["books"]["nodes"]
    assert len(nodes) == 50
    assert all(n["author"]["id"] == str(1 + int(n["id"]) % 40) for n in nodes)
    assert bookstore.count("GET", "/books") == 1
    assert bookstore.count("GET", "/authors") == 1
    assert bookstore.count() == 2


def _fan_out_spec() -> str:
    raw = yaml.safe_load(BOOKSTORE_SPEC.read_text())
    raw["operations"]["author"]["batch"] = {"key": "id", "mode": "fan_out", "max_concurrency": 4}
    return yaml.safe_dump(raw)


async def test_nested_list_with_fan_out_dedupes_keys() -> None:
    from connectql.demo.upstream import create_bookstore_app

    # 50 books whose authors are 10 distinct people.
    async with FakeUpstream(create_bookstore_app(DEMO_KEY, n_books=50, n_authors=10)) as up:
        runtime = Runtime()
        runtime.add(
            load_spec_text(_fan_out_spec(), "fanout.yaml"),
            {"base_url": up.url, "api_key": DEMO_KEY},
        )
        async with serving(runtime) as url:
            result = await execute(url, NESTED_50)
    assert result.errors is None
    assert len({n["author"]["id"] for n in result.data["bookstore"]["books"]["nodes"]}) == 10
    assert up.count("GET", "/books") == 1
    assert sum(1 for r in up.requests if r.path.startswith("/authors/")) == 10
    assert up.count() == 11


async def test_same_key_twice_in_one_request_is_fetched_once(
    server: str, bookstore: FakeUpstream
) -> None:
    result = await execute(
        server,
        '{ bookstore { a: book(id: "3") { title } b: book(id: "3") { id } '
        'c: book(id: "4") { id } } }',
    )
    assert result.errors is None
    assert bookstore.count("GET", "/books/3") == 1
    assert bookstore.count() == 2


async def test_relay_pagination_walks_every_page(server: str, bookstore: FakeUpstream) -> None:
    seen: list[str] = []
    after = None
    pages = 0
    for _ in range(100):  # bounded: the catalogue has far fewer pages
        result = await execute(
            server,
            "query($after: String) { bookstore { books(first: 70, after: $after) {"
            " edges { cursor node { id } } pageInfo { hasNextPage endCursor } } } }",
            {"after": after},
        )
        assert result.errors is None
        conn = result.data["bookstore"]["books"]
        seen += [e["node"]["id"] for e in conn["edges"]]
        pages += 1
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert seen == [str(i) for i in range(1, 241)]
    assert pages == 4


async def test_missing_item_is_null_and_siblings_succeed(
    server: str, bookstore: FakeUpstream
) -> None:
    result = await execute(
        server, '{ bookstore { a: book(id: "999") { id } b: book(id: "1") { id } } }'
    )
    assert result.errors is None
    assert result.data == {"bookstore": {"a": None, "b": {"id": "1"}}}


async def test_mutation_creates_a_book(server: str, bookstore: FakeUpstream) -> None:
    result = await execute(
        server,
        'mutation { bookstore { createBook(input: {title: "New", authorId: "3", genre: POETRY})'
        " { id title genre author { name } } } }",
    )
    assert result.errors is None
    created = result.data["bookstore"]["createBook"]
    assert created["title"] == "New"
    assert created["genre"] == "POETRY"
    assert created["author"] == {"name": "Author 3"}
    post = next(r for r in bookstore.requests if r.method == "POST")
    assert post.json() == {"title": "New", "author_id": "3", "genre": "poetry"}


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        pytest.param(Fault(malformed=True), "BAD_RESPONSE", id="malformed-json"),
        pytest.param(
            Fault(status=200, body="<html>oops</html>", headers={"Content-Type": "text/html"}),
            "BAD_RESPONSE",
            id="wrong-content-type",
        ),
        pytest.param(Fault(reset=True), "UPSTREAM_UNAVAILABLE", id="connection-reset"),
        pytest.param(
            Fault(status=500, body='{"secret": "upstream body"}'), "UPSTREAM_ERROR", id="http-500"
        ),
    ],
)
async def test_bad_upstream_input_gives_an_error_and_the_next_query_works(
    server: str, bookstore: FakeUpstream, fault: Fault, code: str
) -> None:
    bookstore.faults.add(fault, times=None)
    result = await execute(
        server, '{ bookstore { book(id: "1") { id } other: book(id: "2") { id } } }'
    )
    bookstore.faults.clear()
    assert result.data == {"bookstore": {"book": None, "other": None}}
    assert result.errors
    for error in result.errors:
        assert error["extensions"]["code"] == code
        assert error["extensions"]["connector"] == "bookstore"
        assert error["extensions"]["operation"] == "book"
        assert "upstream body" not in str(error)
        assert "127.0.0.1" not in str(error)
    again = await execute(server, '{ bookstore { book(id: "1") { id } } }')
    assert again.errors is None
    assert again.data == {"bookstore": {"book": {"id": "1"}}}


async def test_upstream_timeout_is_a_graphql_error(bookstore: FakeUpstream, tmp_path: Path) -> None:
    raw = yaml.safe_load(BOOKSTORE_SPEC.read_text())
    raw["source"]["timeout"] = 0.3
    raw["source"]["retry"] = {"max_attempts": 1}
    runtime = Runtime()
    runtime.add(
        load_spec_text(yaml.safe_dump(raw), "slow.yaml"),
        {"base_url": bookstore.url, "api_key": DEMO_KEY},
    )
    async with serving(runtime) as url:
        bookstore.faults.add(Fault(delay=2), times=1)
        result = await execute(url, '{ bookstore { book(id: "1") { id } } }')
        assert result.errors[0]["extensions"]["code"] == "UPSTREAM_TIMEOUT"
        assert result.errors[0]["extensions"]["retryable"] is True
        again = await execute(url, '{ bookstore { book(id: "1") { id } } }')
        assert again.data == {"bookstore": {"book": {"id": "1"}}}


async def test_wrong_credentials_give_a_typed_auth_error(bookstore: FakeUpstream) -> None:
    runtime = Runtime()
    runtime.add(
        load_spec_text(BOOKSTORE_SPEC.read_text(), "bookstore.yaml"),
        {"base_url": bookstore.url, "api_key": "wrong-key-1234"},
    )
    async with serving(runtime) as url:
        result = await execute(url, '{ bookstore { book(id: "1") { id } } }')
    error = result.errors[0]
    assert error["extensions"] == {
        "code": "UNAUTHENTICATED",
        "connector": "bookstore",
        "operation": "book",
        "httpStatus": 401,
        "retryable": False,
    }
    assert "wrong-key-1234" not in str(result)


async def test_health_and_readiness(server: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server}/healthz") as resp:
            assert resp.status == 200
        async with http.get(f"{server}/readyz") as resp:
            assert resp.status == 200
            assert (await resp.json())["connectors"] == {"bookstore": "running"}
        async with http.get(f"{server}/graphql", headers={"Accept": "text/html"}) as resp:
            assert resp.status == 200
            assert "graphiql" in (await resp.text()).lower()


async def test_connectors_query_lists_the_demo(server: str) -> None:
    result = await execute(server, "{ connectors { name state breaker operations } }")
    assert result.data["connectors"] == [
        {
            "name": "bookstore",
            "state": "RUNNING",
            "breaker": "CLOSED",
            "operations": ["author", "book", "books", "booksByAuthor", "createBook"],
        }
    ]


async def test_linked_connection_field(server: str, bookstore: FakeUpstream) -> None:
    result = await execute(
        server,
        '{ bookstore { author(id: "5") { name books(first: 2) '
        "{ nodes { id authorId } pageInfo { hasNextPage } } } } }",
    )
    assert result.errors is None
    author = result.data["bookstore"]["author"]
    assert author["name"] == "Author 5"
    assert [n["authorId"] for n in author["books"]["nodes"]] == ["5", "5"]
    assert author["books"]["pageInfo"]["hasNextPage"] is True


async def test_runtime_unused_helper_keeps_secret_out_of_sdl(bookstore: FakeUpstream) -> None:
    runtime = bookstore_runtime(bookstore)
    from graphql import print_schema

    assert DEMO_KEY not in print_schema(runtime.schema.graphql_schema)
