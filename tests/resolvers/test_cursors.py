"""Relay cursors are opaque and tamper-proof: a caller cannot steer the connector's
authenticated requests with one (a forged, edited, truncated or borrowed cursor is
BAD_USER_INPUT and sends nothing upstream)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web

from connectql.resolvers.cursors import Cursors, cursor_scope
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec_text
from connectql.testing import FakeUpstream
from tests.support import DEMO_KEY, bookstore_spec_text, execute, serving

SCOPE = cursor_scope("bookstore", "books", {"genre": "fiction"})
STATE = {"url": "https://api.example.com/books?page=2&access_token=tok-0123456789"}
NOT_OURS = "not a cursor from this API"
PAGE = """query($after: String, $genre: BookstoreGenre) {
  bookstore { books(first: 3, after: $after, genre: $genre) {
    nodes { id } pageInfo { hasNextPage endCursor } } } }"""


def flip(cursor: str, position: int) -> str:
    """`cursor` with one bit of one decoded byte flipped, re-encoded."""
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[position] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


def legacy(state: dict[str, Any], index: int = 0) -> str:
    """A cursor in the old unsigned format: base64url JSON state, a dot, the index."""
    return f"{base64.urlsafe_b64encode(orjson.dumps(state)).decode().rstrip('=')}.{index}"


def test_a_cursor_round_trips_and_shows_nothing_of_its_state() -> None:
    cursors = Cursors()
    cursor = cursors.page(SCOPE, STATE)(7)
    assert cursors.decode(SCOPE, cursor) == (STATE, 7)
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    assert b"api.example.com" not in raw
    assert b"tok-0123456789" not in raw


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda c: flip(c, 0), id="bit-in-nonce"),
        pytest.param(lambda c: flip(c, 14), id="bit-in-sealed-state"),
        pytest.param(lambda c: flip(c, -1), id="bit-in-tag"),
        pytest.param(lambda c: c[:-4], id="truncated"),
        pytest.param(lambda c: c[:10], id="truncated-to-nonce"),
        pytest.param(lambda c: c + "AAAA", id="extended"),
        pytest.param(lambda c: c + "!", id="junk-character"),
        pytest.param(lambda c: "", id="empty"),
        pytest.param(lambda c: "héllo.1", id="not-ascii"),
        pytest.param(lambda c: legacy(STATE), id="unsigned-legacy-format"),
    ],
)
def test_an_edited_cursor_is_refused(tamper: Any) -> None:
    cursors = Cursors()
    cursor = cursors.page(SCOPE, STATE)(0)
    with pytest.raises(ValueError, match=NOT_OURS):
        cursors.decode(SCOPE, tamper(cursor))


@pytest.mark.parametrize(
    "scope",
    [
        pytest.param(cursor_scope("github", "books", {"genre": "fiction"}), id="other-connector"),
        pytest.param(cursor_scope("bookstore", "authors", {"genre": "fiction"}), id="other-op"),
        pytest.param(cursor_scope("bookstore", "books", {"genre": "poetry"}), id="other-args"),
        pytest.param(cursor_scope("bookstore", "books", {}), id="no-args"),
    ],
)
def test_a_cursor_is_valid_only_where_it_was_issued(scope: bytes) -> None:
    cursors = Cursors()
    with pytest.raises(ValueError, match=NOT_OURS):
        cursors.decode(scope, cursors.page(SCOPE, STATE)(0))


def test_replicas_sharing_the_secret_key_accept_each_others_cursors() -> None:
    env = {"CONNECTQL_SECRET_KEY": "k" * 44}
    cursor = Cursors.from_environment(env).page(SCOPE, STATE)(2)
    assert Cursors.from_environment(dict(env)).decode(SCOPE, cursor) == (STATE, 2)
    with pytest.raises(ValueError, match=NOT_OURS):
        Cursors.from_environment({"CONNECTQL_SECRET_KEY": "x" * 44}).decode(SCOPE, cursor)
    elsewhere = Cursors.from_environment({}).page(SCOPE, STATE)(0)
    with pytest.raises(ValueError, match=NOT_OURS):  # without a shared key, one per process
        Cursors.from_environment({}).decode(SCOPE, elsewhere)


# --- through GraphQL, against the demo bookstore ---------------------------------------------


@pytest.fixture
async def listener() -> AsyncIterator[FakeUpstream]:
    """The attacker's: a connector must never be steered here."""

    async def anything(request: web.Request) -> web.Response:
        return web.json_response([{"id": "stolen"}])

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    async with FakeUpstream(app) as upstream:
        yield upstream


@pytest.fixture
async def shop(bookstore: FakeUpstream, listener: FakeUpstream) -> AsyncIterator[str]:
    """Two connectors over the same bookstore; `shop` even lists the listener's host."""
    runtime = Runtime()
    config = {"base_url": bookstore.url, "api_key": DEMO_KEY}
    runtime.add(load_spec_text(bookstore_spec_text(), "bookstore.yaml"), config)
    other = bookstore_spec_text(
        **{"connector.name": "shop", "source.allow_hosts": [f"127.0.0.1:{listener.port}"]}
    )
    runtime.add(load_spec_text(other, "shop.yaml"), config)
    async with serving(runtime) as url:
        yield url


async def first_page(url: str, **variables: Any) -> dict[str, Any]:
    result = await execute(url, PAGE, variables)
    assert result.errors is None, result.errors
    page: dict[str, Any] = result.data["bookstore"]["books"]
    return page


def assert_bad_cursor(result: Any) -> None:
    assert result.errors, result.data
    assert result.errors[0]["extensions"]["code"] == "BAD_USER_INPUT", result.errors
    assert "not a valid cursor" in result.errors[0]["message"]


async def test_an_issued_cursor_continues_the_list(shop: str) -> None:
    page = await first_page(shop, genre="FICTION")
    more = await execute(shop, PAGE, {"genre": "FICTION", "after": page["pageInfo"]["endCursor"]})
    assert more.errors is None, more.errors
    assert len(more.data["bookstore"]["books"]["nodes"]) == 3


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda c: flip(c, 20), id="bit-flipped"),
        pytest.param(lambda c: c[:-6], id="truncated"),
        pytest.param(lambda c: "x" + c, id="prefixed"),
        pytest.param(lambda c: "%%%", id="garbage"),
    ],
)
async def test_an_edited_cursor_is_bad_user_input_and_calls_nothing(
    shop: str, bookstore: FakeUpstream, tamper: Any
) -> None:
    page = await first_page(shop)
    bookstore.reset()
    result = await execute(shop, PAGE, {"after": tamper(page["pageInfo"]["endCursor"])})
    assert_bad_cursor(result)
    assert bookstore.count() == 0


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        pytest.param(PAGE, {"genre": "POETRY"}, id="other-arguments"),
        pytest.param(
            'query($after: String) { bookstore { booksByAuthor(authorId: "1", after: $after) '
            "{ nodes { id } } } }",
            {},
            id="other-operation",
        ),
        pytest.param(
            "query($after: String) { shop { books(after: $after) { nodes { id } } } }",
            {},
            id="other-connector",
        ),
    ],
)
async def test_a_cursor_cannot_be_replayed_elsewhere(
    shop: str, bookstore: FakeUpstream, query: str, variables: dict[str, Any]
) -> None:
    page = await first_page(shop, genre="FICTION")
    bookstore.reset()
    result = await execute(shop, query, {**variables, "after": page["pageInfo"]["endCursor"]})
    assert_bad_cursor(result)
    assert bookstore.count() == 0


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("upstream", id="path-of-choice-on-the-upstream"),
        pytest.param("listener", id="host-in-allow-hosts"),
    ],
)
async def test_a_crafted_cursor_cannot_steer_an_authenticated_request(
    shop: str, bookstore: FakeUpstream, listener: FakeUpstream, target: str
) -> None:
    origin = bookstore.url if target == "upstream" else listener.url
    crafted = legacy({"url": f"{origin}/admin/delete-everything"})
    bookstore.reset()
    for namespace in ("bookstore", "shop"):
        query = f"query($a: String) {{ {namespace} {{ books(after: $a) {{ nodes {{ id }} }} }} }}"
        result = await execute(shop, query, {"a": crafted})
        assert_bad_cursor(result)
    assert bookstore.count() == 0
    assert listener.count() == 0
