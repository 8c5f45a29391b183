"""GraphiQL's default query: an example that runs against the connectors being served."""

from __future__ import annotations

import pytest
from graphql import build_schema

from connectql.server.graphiql import FALLBACK_QUERY, HINT, example_query

SDL = """
type Query { schemaVersion: Int! alpha: AlphaQuery beta: BetaQuery }
type AlphaQuery { item(id: ID!): Item }
type BetaQuery {
  item(id: ID!): Item
  items(first: Int, after: String): ItemConnection!
}
type ItemConnection { nodes: [Item!]! pageInfo: PageInfo! }
type PageInfo { hasNextPage: Boolean! }
type Item { id: ID! name(upper: Boolean = false): String owner: Item tags: [String!] }
"""


@pytest.mark.parametrize(
    ("namespaces", "expected"),
    [
        pytest.param(
            ["alpha", "beta"],
            HINT.format(name="beta")
            + "{\n  beta {\n    items(first: 5) {\n      nodes {\n"
            + "        id\n        name\n        tags\n      }\n    }\n  }\n}\n",
            id="first-connector-with-a-field-callable-bare",
        ),
        pytest.param(["alpha"], FALLBACK_QUERY, id="only-fields-with-required-args"),
        pytest.param([], FALLBACK_QUERY, id="no-connectors"),
    ],
)
def test_example_query(namespaces: list[str], expected: str) -> None:
    assert example_query(build_schema(SDL), namespaces) == expected
