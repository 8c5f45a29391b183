"""Join static strawberry root types and the generated connector types into one schema.

The static roots (the control-plane and builder API of `connectql.api`, or `GRAPH_ROOTS`
when the graph runs alone) are handed in by the layer above; this module never imports
them. strawberry executes against `Schema._schema`, a graphql-core GraphQLSchema: we build
the static part with strawberry, then replace `_schema` with one whose root types also hold
every connector's namespace field. `tests/graph/test_compose.py` pins this behaviour.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import (
    GraphQLError,
    GraphQLField,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    validate_schema,
)
from strawberry.extensions import SchemaExtension
from strawberry.scalars import JSON
from strawberry.types import ExecutionContext
from strawberry.types.scalar import ScalarDefinition

from connectql.connectors.connector import Connector
from connectql.errors import SchemaBuildError
from connectql.graph.caches import Documents
from connectql.graph.execution import CompiledExecutor, CompiledPlans, attach_plans
from connectql.graph.federation import DIRECTIVES, Subgraph
from connectql.graph.joins import Joins
from connectql.graph.roots import RootFields
from connectql.graph.types import ConnectorTypes, GraphQLJSON, ResolverFactory
from connectql.resolvers.errors import log_errors


@dataclass(frozen=True)
class RootTypes:
    """Static strawberry root types that the connectors' fields join."""

    query: type
    mutation: type | None = None
    subscription: type | None = None


@strawberry.type(description="The connectors' graph, served without the control plane.")
class GraphQuery:
    @strawberry.field(description="The names of the connectors this schema serves.")
    def connector_names(self, info: strawberry.Info) -> list[str]:
        return sorted(getattr(info.context, "connectors", {}))


GRAPH_ROOTS = RootTypes(GraphQuery)
"""The roots of a runtime used on its own (embedded, benchmarks): no control plane."""

JSON_OVERRIDE: dict[object, Any] = {
    JSON: ScalarDefinition(
        name="JSON",
        description=GraphQLJSON.description,
        specified_by_url=None,
        serialize=None,
        parse_value=None,
        parse_literal=None,
        implementation=GraphQLJSON,
    )
}
"""One JSON scalar for both parts: strawberry's control plane uses the connectors' object
(a schema may hold only one type of each name)."""


class _Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        log_errors(errors)


@dataclass(frozen=True)
class BuiltSchema:
    schema: strawberry.Schema
    build_ms: float
    documents: Documents
    """Its parsed and validated documents (and the limits they are checked with)."""

    @property
    def graphql_schema(self) -> GraphQLSchema:
        return self.schema._schema


def build_schema(
    connectors: Sequence[Connector],
    resolvers: ResolverFactory,
    *,
    roots: RootTypes = GRAPH_ROOTS,
    extensions: Iterable[type[SchemaExtension] | Callable[[], SchemaExtension]] = (),
    types_cache: dict[int, ConnectorTypes] | None = None,
    federation: bool = False,
    joins: Joins | None = None,
    documents: Documents | None = None,
) -> BuiltSchema:
    """One schema from the static `roots` and `connectors`, in name order, with `joins`;
    with `federation`, also an Apollo Federation v2 subgraph (graph/federation.py).
    `documents` (default: with default limits) is its document cache; its limits and cache
    join `extensions` for strawberry's execution."""
    started = time.perf_counter()
    documents = documents or Documents()
    static = _Schema(
        query=roots.query,
        mutation=roots.mutation,
        subscription=roots.subscription,
        extensions=[*extensions, *documents.extensions()],
        scalar_overrides=JSON_OVERRIDE,
        execution_context_class=CompiledExecutor,
    )
    base = static._schema
    roots_fields = RootFields(
        base.query_type.fields,  # type: ignore[union-attr]
        base.mutation_type.fields if base.mutation_type else {},
        base.subscription_type.fields if base.subscription_type else {},
    )
    named: list[GraphQLNamedType] = []
    parts: list[ConnectorTypes] = []
    for connector in sorted(connectors, key=lambda c: c.name):
        types = types_cache.get(id(connector)) if types_cache is not None else None
        if types is None:
            types = ConnectorTypes(
                connector, resolvers, *(joins.of(connector.name) if joins else ())
            )
            if types_cache is not None:
                types_cache[id(connector)] = types
        roots_fields.add(types)
        named.extend(types.all_named_types())
        parts.append(types)
        if joins is not None:
            joins.types[connector.name] = types
    if joins is not None:
        named.extend(_ghost_types(joins, resolvers, types_cache))
    roots_fields.check()
    query_fields, mutation_fields = roots_fields.query, roots_fields.mutation
    directives = list(base.directives)
    if federation:
        subgraph = Subgraph(parts, resolvers)
        query_fields.update(subgraph.root_fields())
        named.extend(subgraph.types())
        directives.extend(DIRECTIVES)
    try:
        schema = GraphQLSchema(
            query=GraphQLObjectType("Query", query_fields, description=base.query_type.description),  # type: ignore[union-attr]
            mutation=GraphQLObjectType(
                "Mutation",
                mutation_fields,
                description=base.mutation_type.description if base.mutation_type else None,
            )
            if mutation_fields
            else None,
            subscription=_subscription_type(base.subscription_type, roots_fields.subscription),
            types=named,
            directives=directives,
            extensions=base.extensions,
        )
        schema._strawberry_schema = static  # type: ignore[attr-defined]
        attach_plans(schema, CompiledPlans())
        errors = validate_schema(schema)
    except (TypeError, ValueError, AssertionError) as exc:
        raise SchemaBuildError(f"the connectors do not form a valid schema: {exc}") from exc
    if errors:
        raise SchemaBuildError(
            "the connectors do not form a valid schema: " + "; ".join(e.message for e in errors)
        )
    static._schema = schema
    return BuiltSchema(static, (time.perf_counter() - started) * 1000, documents)


def _subscription_type(
    static: GraphQLObjectType | None, fields: dict[str, GraphQLField]
) -> GraphQLObjectType | None:
    """The static Subscription type, or one that also holds the connectors' subscriptions."""
    if static is not None and fields.keys() == static.fields.keys():
        return static
    if not fields:
        return None
    description = static.description if static is not None else None
    return GraphQLObjectType("Subscription", fields, description=description)


def _ghost_types(
    joins: Joins, resolvers: ResolverFactory, types_cache: dict[int, ConnectorTypes] | None
) -> list[GraphQLNamedType]:
    """The types of join targets that stopped (from their last known spec), without their
    namespace fields: the join fields typed by them stay as they were."""
    named: list[GraphQLNamedType] = []
    for name, ghost in sorted(joins.ghosts.items()):
        types = types_cache.get(id(ghost)) if types_cache is not None else None
        if types is None:
            types = ConnectorTypes(ghost, resolvers)
            if types_cache is not None:
                types_cache[id(ghost)] = types
        joins.types[name] = types
        named.extend(types.all_named_types())
    return named
