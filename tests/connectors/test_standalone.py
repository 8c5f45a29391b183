"""`open_connector`: a connector called from Python without a server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from connectql import ConfigError, ConnectorError, open_connector
from connectql.demo.runner import BOOKSTORE_SPEC
from connectql.demo.upstream import create_bookstore_app
from connectql.testing import FakeUpstream
from connectql.testing.fakes.openai import DEFAULT_API_KEY, OpenAIState, create_openai_app
from tests.support import DEMO_KEY


@pytest.fixture
async def bookstore() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(create_bookstore_app(DEMO_KEY)) as upstream:
        yield upstream


async def test_results_have_the_fields_of_the_spec_types(bookstore: FakeUpstream) -> None:
    config = {"base_url": bookstore.url, "api_key": DEMO_KEY}
    async with open_connector(BOOKSTORE_SPEC, config) as store:
        book = await store.call("book", id="4")
        missing = await store.call("book", id="999")  # errors: {"404": null}
        books = await store.call("books", genre="poetry")
    assert book == {
        "id": "4",
        "title": "Book 4",
        "genre": "fiction",
        "year": 1954,
        "price": 19.8,
        "tags": ["tag4", "tag4"],
        "authorId": "5",  # from: author_id; the linked `author` needs calls: left out
    }
    assert missing is None
    assert len(books) == 50  # the first page, as GraphQL gives without `first`
    assert {b["genre"] for b in books} == {"poetry"}
    assert bookstore.count("GET", "/books") == 1


async def test_a_prebuilt_connector_opens_lazily_and_closes() -> None:
    async with FakeUpstream(create_openai_app(OpenAIState())) as fake:
        config = {"api_key": DEFAULT_API_KEY, "base_url": f"{fake.url}/v1"}
        openai = open_connector("openai", config)
        assert openai.connector._session is None  # nothing opened before the first call
        vector = await openai.call("embedding", text="cat")  # model: its declared default
        session = openai.connector._session
        await openai.aclose()
    assert session is not None
    assert session.closed
    assert len(vector) == 8
    assert fake.requests[0].json()["model"] == "text-embedding-3-small"


@pytest.mark.parametrize(
    ("operation", "args", "says"),
    [
        pytest.param("bookz", {}, "no operation 'bookz' (operations: author, book,", id="op"),
        pytest.param("book", {"id": "1", "isbn": "x"}, "book has no argument isbn", id="arg"),
        pytest.param("book", {}, "book needs id", id="required"),
    ],
)
async def test_bad_calls_say_what_is_wrong(operation: str, args: dict[str, str], says: str) -> None:
    store = open_connector(BOOKSTORE_SPEC, {"base_url": "http://127.0.0.1:9", "api_key": "k"})
    with pytest.raises(ConnectorError) as caught:
        await store.call(operation, **args)
    assert caught.value.code == "BAD_USER_INPUT"
    assert says in str(caught.value)


def test_an_unknown_prebuilt_name_lists_the_known_ones() -> None:
    with pytest.raises(
        ConfigError, match=r"no prebuilt connector named 'gitlab' \(prebuilt: .*github"
    ):
        open_connector("gitlab")
