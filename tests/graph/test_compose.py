"""Pins how connector types join strawberry's schema (we replace `Schema._schema`)."""

from __future__ import annotations

import strawberry
from graphql import GraphQLObjectType, print_schema

from connectql.api import API_ROOTS
from connectql.demo.runner import BOOKSTORE_SPEC
from connectql.graph.compose import build_schema
from connectql.resolvers.fields import ConnectorResolvers, RequestContext
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec

CONFIG = {"base_url": "http://127.0.0.1:9", "api_key": "k-123456"}


def demo_runtime() -> Runtime:
    runtime = Runtime(roots=API_ROOTS)
    runtime.add(load_spec(BOOKSTORE_SPEC), CONFIG)
    return runtime


def test_strawberry_executes_against_the_replaced_graphql_schema() -> None:
    built = demo_runtime().schema
    assert isinstance(built.schema, strawberry.Schema)
    assert built.schema._schema is built.graphql_schema
    assert built.graphql_schema._strawberry_schema is built.schema  # type: ignore[attr-defined]
    query = built.graphql_schema.query_type
    assert query is not None
    assert {"connectors", "connector", "bookstore"} <= set(query.fields)


async def test_static_strawberry_fields_still_resolve() -> None:
    runtime = demo_runtime()
    result = await runtime.schema.schema.execute(
        '{ connectors { name state } connector(name: "nope") { name } }',
        context_value=RequestContext(connectors=runtime.connectors),
    )
    assert result.errors is None
    assert result.data == {
        "connectors": [{"name": "bookstore", "state": "STOPPED"}],
        "connector": None,
    }


async def test_the_graph_runs_without_the_control_plane() -> None:
    """A runtime on its own serves the connectors under minimal roots, no API."""
    runtime = Runtime()
    runtime.add(load_spec(BOOKSTORE_SPEC), CONFIG)
    schema = runtime.schema.graphql_schema
    assert schema.query_type is not None
    assert set(schema.query_type.fields) == {"connectorNames", "bookstore"}
    assert set(schema.mutation_type.fields) == {"bookstore"}  # type: ignore[union-attr]
    assert schema.subscription_type is None
    result = await runtime.schema.schema.execute(
        "{ connectorNames }", context_value=RequestContext(connectors=runtime.connectors)
    )
    assert result.data == {"connectorNames": ["bookstore"]}
    runtime.use_roots(API_ROOTS)
    assert "createConnector" in runtime.schema.graphql_schema.mutation_type.fields  # type: ignore[union-attr]


def test_type_names_are_prefixed_and_stable_across_rebuilds() -> None:
    runtime = demo_runtime()
    first = print_schema(runtime.schema.graphql_schema)
    spec = load_spec(BOOKSTORE_SPEC)
    again = build_schema([*runtime.connectors.values()], ConnectorResolvers(), roots=API_ROOTS)
    assert print_schema(again.graphql_schema) == first
    for name in (
        "BookstoreBook",
        "BookstoreAuthor",
        "BookstoreGenre",
        "BookstoreBookInput",
        "BookstoreBookConnection",
        "BookstoreBookEdge",
        "BookstoreQuery",
        "BookstoreMutation",
        "PageInfo",
    ):
        assert name in runtime.schema.graphql_schema.type_map, name
    assert spec.name == "bookstore"
    genre = runtime.schema.graphql_schema.type_map["BookstoreGenre"]
    assert sorted(genre.values) == ["FICTION", "HISTORY", "NON_FICTION", "POETRY"]  # type: ignore[attr-defined]


def test_paginated_operations_are_relay_connections() -> None:
    schema = demo_runtime().schema.graphql_schema
    namespace = schema.type_map["BookstoreQuery"]
    assert isinstance(namespace, GraphQLObjectType)
    books = namespace.fields["books"]
    assert set(books.args) == {"genre", "first", "after"}
    assert str(books.type) == "BookstoreBookConnection"  # nullable: a failure is its own
    connection = schema.type_map["BookstoreBookConnection"]
    assert isinstance(connection, GraphQLObjectType)
    assert set(connection.fields) == {"edges", "nodes", "pageInfo"}


async def test_validation_is_cached_per_schema_and_old_schemas_are_freed() -> None:
    import gc
    import weakref

    runtime = demo_runtime()
    first = runtime.schema
    context = RequestContext(connectors=runtime.connectors)
    bad = "{ bookstore { nosuchfield } }"
    for _ in range(2):  # the second answer comes from the cache, and must be the same
        result = await first.schema.execute(bad, context_value=context)
        assert result.errors is not None
        assert "nosuchfield" in result.errors[0].message
    old = weakref.ref(first.graphql_schema)
    del first, result
    runtime.set_connectors([(load_spec(BOOKSTORE_SPEC), CONFIG)])  # a swap
    gc.collect()
    assert old() is None, "a swapped-out schema is still referenced (by a query cache?)"
