"""What a connector field's resolver does, told to the compiled executor (graph/plan.py).

Every GraphQLField that graph/types.py builds for a connector carries one of these in
`field.extensions[KIND]`, with the resolver function it describes. The planner reads the
kind instead of calling the resolver; a field whose resolver was replaced after tagging (a
mutation guard, a join whose connector stopped) no longer matches its kind, and such a
field, like any untagged one, leaves its whole operation to graphql-core.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLField, GraphQLFieldResolver, GraphQLUnionType

from connectql.connectors.connector import Connector
from connectql.spec.models import Resolve
from connectql.spec.paths import Path

KIND = "connectql_resolver"
"""The key of a field's (or union's) kind in its `extensions`."""


@dataclass(frozen=True, eq=False)
class Read:
    """A value read from the parent record: `key`, or `path` when the spec gave `from`."""

    resolve: GraphQLFieldResolver
    key: str | None = None
    path: Path | None = None
    required: tuple[str, str] | None = None
    """(connector, declared type) of a lenient connector's non-null field: a missing value
    is reported as BAD_RESPONSE and the field is null."""


@dataclass(frozen=True, eq=False)
class Namespace:
    """A connector's query namespace field: its value is the connector."""

    resolve: GraphQLFieldResolver
    connector: Connector


@dataclass(frozen=True, eq=False)
class Linked:
    """A field resolved by one call of another operation through the request's dataloader,
    with arguments rendered from the parent (`resolvers.fields.LinkedArgs`)."""

    resolve: GraphQLFieldResolver
    connector: Connector
    link: Resolve


@dataclass(frozen=True, eq=False)
class Loaded:
    """A query operation answering one record (or null): its value is the request's loader
    of `operation` for the field's arguments, as its resolver would await it."""

    resolve: GraphQLFieldResolver
    connector: Connector
    operation: str


@dataclass(frozen=True, eq=False)
class Upstream:
    """A field that calls an upstream through the request's loaders (an operation, a Relay
    connection, a linked list): its resolver runs once per occurrence, with a ResolveInfo."""

    resolve: GraphQLFieldResolver


@dataclass(frozen=True, eq=False)
class Discriminated:
    """A union whose member is named by a discriminator value (`resolve_type`)."""

    resolve_type: Callable[..., Any]
    discriminator: Path
    mapping: dict[str, str]


FieldKind = Read | Namespace | Linked | Loaded | Upstream


def tag(field: GraphQLField, kind: FieldKind) -> GraphQLField:
    """`field`, marked with what its resolver does."""
    field.extensions = {**(field.extensions or {}), KIND: kind}
    return field


def kind_of(field: GraphQLField) -> FieldKind | None:
    """The field's kind if it still describes the field's resolver."""
    kind = (field.extensions or {}).get(KIND)
    return kind if kind is not None and kind.resolve is field.resolve else None


def union_kind(union: GraphQLUnionType) -> Discriminated | None:
    kind = (union.extensions or {}).get(KIND)
    if isinstance(kind, Discriminated) and kind.resolve_type is union.resolve_type:
        return kind
    return None
