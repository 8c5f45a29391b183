"""`_entities` of a federation subgraph: representations → each type's lookup operation.

Every representation becomes the arguments of its type's `lookup` and is loaded through the
request's dataloader of that operation (`resolvers/loaders.py`), so a gateway's batch costs
one multi-get per connector when the lookup has `batch.mode: request`, and equal
representations (the gateway sends one per reference) are fetched once. Results keep the
representations' order; one not found is null; a representation that cannot be looked up is
an error of its own entry (BAD_USER_INPUT), the others are answered.

`_Entity`'s resolve_type knows each result's type from a per-request note of what each
result was looked up as: upstream records (maybe cached, shared) are never marked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLAbstractType,
    GraphQLFieldResolver,
    GraphQLResolveInfo,
    GraphQLTypeResolver,
)

from connectql.connectors.connector import Connector
from connectql.errors import ConnectorError
from connectql.resolvers.loaders import Loaders, request_loaders
from connectql.spec.models import Resolve
from connectql.spec.templates import parse_template, render_value
from connectql.spec.typeref import parse_type_ref

Info = GraphQLResolveInfo[Any]


@dataclass(frozen=True)
class Entity:
    """One entity type of the served graph: its GraphQL name, connector, key and lookup."""

    typename: str
    connector: Connector
    key: tuple[str, ...]
    lookup: Resolve | None
    """None: the key is only referenced (`@key(…, resolvable: false)`), never looked up."""


class EntityResolvers(NamedTuple):
    resolve: GraphQLFieldResolver
    """`_entities(representations:)`."""
    resolve_type: GraphQLTypeResolver
    """`_Entity`'s."""


def _bad_input(message: str, entity: Entity | None = None) -> ConnectorError:
    return ConnectorError(
        message,
        connector=entity.connector.name if entity else None,
        operation=entity.lookup.operation if entity and entity.lookup else None,
        code="BAD_USER_INPUT",
    )


class _Lookup:
    """A compiled lookup: a representation → its operation's arguments."""

    def __init__(self, entity: Entity, lookup: Resolve) -> None:
        self.entity = entity
        self.operation = lookup.operation
        self.config = entity.connector.config
        self.args = [
            (name, parse_template(value).render if isinstance(value, str) else value)
            for name, value in lookup.args.items()
        ]
        target = entity.connector.operation(lookup.operation)
        self.required = [
            name
            for name, arg in target.args.items()
            if parse_type_ref(arg.type).non_null and arg.default is None
        ]

    def args_for(self, representation: Mapping[str, Any]) -> dict[str, Any]:
        missing = [name for name in self.entity.key if representation.get(name) in (None, "")]
        if missing:
            raise _bad_input(
                f"a {self.entity.typename} representation needs its key field(s) "
                f"{', '.join(missing)}",
                self.entity,
            )
        scope = {"parent": representation, "config": self.config}
        args = {
            name: value(scope) if callable(value) else render_value(value, scope)
            for name, value in self.args
        }
        empty = [name for name in self.required if args.get(name) in (None, "")]
        if empty:
            raise _bad_input(
                f"a {self.entity.typename} representation gives no value for "
                f"{', '.join(empty)} of {self.operation}",
                self.entity,
            )
        return args


def entity_resolvers(entities: Mapping[str, Entity]) -> EntityResolvers:
    """The resolvers of `_entities` and `_Entity` over `entities` (by GraphQL type name)."""
    lookups = {
        name: _Lookup(entity, entity.lookup)
        for name, entity in entities.items()
        if entity.lookup is not None
    }
    known = ", ".join(sorted(entities)) or "none"
    looked_up: WeakKeyDictionary[Loaders, dict[int, tuple[Any, str]]] = WeakKeyDictionary()
    """Per request (its Loaders): id of a result → (the result, kept alive; its type)."""

    def lookup_for(representation: Any) -> _Lookup:
        if not isinstance(representation, Mapping):
            raise _bad_input("a representation is an object with __typename and key fields")
        typename = representation.get("__typename")
        found = lookups.get(typename) if isinstance(typename, str) else None
        if found is None:
            entity = entities.get(typename) if isinstance(typename, str) else None
            if entity is not None:
                raise _bad_input(
                    f"{typename} has no lookup in its connector spec: it cannot be fetched "
                    "by key here",
                    entity,
                )
            raise _bad_input(f"__typename {typename!r} is not an entity here (entities: {known})")
        return found

    async def resolve(parent: Any, info: Info, representations: Sequence[Any]) -> list[Any]:
        loaders = request_loaders(info.context)
        results: list[Any] = [None] * len(representations)
        pending: list[tuple[int, str, Any]] = []
        for i, representation in enumerate(representations):
            try:
                lookup = lookup_for(representation)
                args = lookup.args_for(representation)
            except ConnectorError as exc:
                results[i] = exc  # graphql-core reports it at this entry only
                continue
            loader = loaders.get(lookup.entity.connector, lookup.operation)
            pending.append((i, lookup.entity.typename, loader.load(args)))
        found = await asyncio.gather(*(p[2] for p in pending), return_exceptions=True)
        note = looked_up.setdefault(loaders, {})
        for (i, typename, _), value in zip(pending, found, strict=True):
            if isinstance(value, BaseException) and not isinstance(value, Exception):
                raise value  # cancelled: not an answer
            if value is not None and not isinstance(value, Exception):
                note[id(value)] = (value, typename)
            results[i] = value
        return results

    def resolve_type(value: Any, info: Info, abstract: GraphQLAbstractType) -> str | None:
        note = looked_up.get(request_loaders(info.context)) or {}
        found = note.get(id(value))
        return found[1] if found is not None else None

    return EntityResolvers(resolve, resolve_type)
