"""A failed upstream call nulls its own field, with its error, and nothing else: its siblings
in the namespace, other connectors and the control plane keep their answers (GraphQL null
propagation stops at the failed field, which is nullable whatever the spec declares)."""

from __future__ import annotations

from graphql import GraphQLNonNull

from connectql.testing import FakeUpstream
from connectql.testing.upstream import Fault
from tests.support import bookstore_runtime, execute

QUERY = """{
  schemaVersion
  bookstore {
    books(first: 2) { nodes { title } }
    book(id: "1") { title author { name } }
  }
}"""


def _path(path: str) -> Fault:
    return Fault(status=400, body=b'{"error": "bad"}', match=lambda r: r.path == path)


async def test_a_failed_connection_leaves_its_siblings(
    bookstore: FakeUpstream, server: str
) -> None:
    bookstore.faults.add(_path("/books"), times=None)
    result = await execute(server, QUERY)
    assert result.data["schemaVersion"] >= 1
    assert result.data["bookstore"]["books"] is None
    assert result.data["bookstore"]["book"]["title"]
    assert result.data["bookstore"]["book"]["author"]["name"]
    [error] = result.errors
    assert error["path"] == ["bookstore", "books"]
    assert error["extensions"]["connector"] == "bookstore"


async def test_a_failed_link_leaves_its_parent(bookstore: FakeUpstream, server: str) -> None:
    bookstore.faults.add(_path("/authors"), times=None)
    result = await execute(server, QUERY)
    book = result.data["bookstore"]["book"]
    assert book["title"]
    assert book["author"] is None
    assert len(result.data["bookstore"]["books"]["nodes"]) == 2
    [error] = result.errors
    assert error["path"] == ["bookstore", "book", "author"]


def test_upstream_fields_are_nullable_at_their_top(bookstore: FakeUpstream) -> None:
    """`books: [Book!]!` in the spec; the field is `BookstoreBookConnection`, and a link
    declared non-null is nullable too; what the spec declares inside stays."""
    schema = bookstore_runtime(bookstore).schema.graphql_schema
    namespace = schema.get_type("BookstoreQuery")
    author = schema.get_type("BookstoreAuthor")
    connection = schema.get_type("BookstoreBookConnection")
    assert not isinstance(namespace.fields["books"].type, GraphQLNonNull)  # type: ignore[union-attr]
    assert not isinstance(author.fields["books"].type, GraphQLNonNull)  # type: ignore[union-attr]
    assert isinstance(connection.fields["nodes"].type, GraphQLNonNull)  # type: ignore[union-attr]
