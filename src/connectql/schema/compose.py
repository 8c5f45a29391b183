"""Join the static strawberry schema and the generated connector types into one schema.

strawberry executes against `Schema._schema`, a graphql-core GraphQLSchema. We build the
static part with strawberry, then replace `_schema` with one whose root types also hold
every connector's namespace field. `tests/schema/test_compose.py` pins this behaviour.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import GraphQLError, GraphQLField, GraphQLNamedType, GraphQLObjectType, GraphQLSchema
from strawberry.extensions import SchemaExtension
from strawberry.scalars import JSON
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext
from strawberry.types.scalar import ScalarDefinition

from connectql.connectors.connector import Connector
from connectql.errors import SchemaBuildError
from connectql.resolvers.errors import ShapingExecutor, log_errors
from connectql.schema.builder import BuilderMutation
from connectql.schema.control import Mutation as ControlMutation
from connectql.schema.control import Query, Subscription
from connectql.schema.types import ConnectorTypes, GraphQLJSON, ResolverFactory

Mutation = merge_types("Mutation", (ControlMutation, BuilderMutation))

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

    @property
    def graphql_schema(self) -> GraphQLSchema:
        return self.schema._schema


def build_schema(
    connectors: Sequence[Connector],
    resolvers: ResolverFactory,
    *,
    extensions: Iterable[type[SchemaExtension] | Callable[[], SchemaExtension]] = (),
    types_cache: dict[int, ConnectorTypes] | None = None,
) -> BuiltSchema:
    """One schema from the static control plane and `connectors`, in name order."""
    started = time.perf_counter()
    static = _Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=list(extensions),
        scalar_overrides=JSON_OVERRIDE,
        execution_context_class=ShapingExecutor,
    )
    base = static._schema
    query_fields: dict[str, GraphQLField] = dict(base.query_type.fields)  # type: ignore[union-attr]
    mutation_fields: dict[str, GraphQLField] = dict(base.mutation_type.fields)  # type: ignore[union-attr]
    named: list[GraphQLNamedType] = []
    for connector in sorted(connectors, key=lambda c: c.name):
        if connector.name in query_fields or connector.name in mutation_fields:
            raise SchemaBuildError(
                f"connector name {connector.name!r} clashes with a built-in field"
            )
        types = types_cache.get(id(connector)) if types_cache is not None else None
        if types is None:
            types = ConnectorTypes(connector, resolvers)
            if types_cache is not None:
                types_cache[id(connector)] = types
        query_fields[connector.name] = types.query
        if types.mutation is not None:
            mutation_fields[connector.name] = types.mutation
        named.extend(types.all_named_types())
    try:
        schema = GraphQLSchema(
            query=GraphQLObjectType("Query", query_fields, description=base.query_type.description),  # type: ignore[union-attr]
            mutation=GraphQLObjectType(
                "Mutation",
                mutation_fields,
                description=base.mutation_type.description,  # type: ignore[union-attr]
            ),
            subscription=base.subscription_type,
            types=named,
            directives=base.directives,
            extensions=base.extensions,
        )
        schema._strawberry_schema = static  # type: ignore[attr-defined]
        from graphql import validate_schema

        errors = validate_schema(schema)
    except (TypeError, ValueError, AssertionError) as exc:
        raise SchemaBuildError(f"the connectors do not form a valid schema: {exc}") from exc
    if errors:
        raise SchemaBuildError(
            "the connectors do not form a valid schema: " + "; ".join(e.message for e in errors)
        )
    static._schema = schema
    return BuiltSchema(static, (time.perf_counter() - started) * 1000)
