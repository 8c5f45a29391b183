"""A generator of valid, meaningful GraphQL queries over a served schema, deterministic for a
seed: aliases of one field with other arguments, fields selected twice (merged), named and
inline fragments (type conditions on unions too), `__typename` at every level, variables with
and without defaults, @skip/@include, Relay connections and links, nested a few levels.

Argument values come from `values`, keyed `Type.field.arg`, `field.arg` or `arg` (the most
specific wins), as JSON input values (enum names as strings): ids that exist in the fake and
ids that don't, so answers are real data, nulls and errors. Every document is validated
against the schema before it is returned, so a generator bug fails loudly here; one the
server's default limits would refuse (too many aliases, too costly) is drawn again.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    OperationDefinitionNode,
    Undefined,
    get_named_type,
    get_nullable_type,
    is_composite_type,
    parse,
    validate,
)

from connectql.graph.limits import Limits, measure, operation_cost

MAX_DEPTH = 6
"""Composite levels below the root field (a connection and its nodes count two)."""
MAX_FIELDS = 4
"""Fields picked per selection set, besides `__typename` and repeats."""
DEFAULTS: dict[str, list[Any]] = {
    "Int": [1, 2, 3],
    "Float": [0.5, 1.0],
    "Boolean": [True, False],
    "String": ["x"],
    "ID": ["1"],
}


@dataclass(frozen=True)
class CorpusQuery:
    document: str
    variables: dict[str, Any]


def generate_queries(
    schema: GraphQLSchema,
    roots: Sequence[str],
    values: Mapping[str, Sequence[Any]],
    *,
    count: int,
    seed: int,
) -> list[CorpusQuery]:
    """`count` valid queries over the Query fields `roots`, the same ones for the same seed."""
    rng = random.Random(seed)
    queries: list[CorpusQuery] = []
    while len(queries) < count:
        query = _Document(schema, values, rng).build(roots, f"Corpus{len(queries)}")
        document = parse(query.document)
        errors = validate(schema, document)
        assert not errors, (query.document, errors)
        if not _too_big(schema, document, query.variables):
            queries.append(query)
    return queries


def _too_big(schema: GraphQLSchema, document: DocumentNode, variables: dict[str, Any]) -> bool:
    limits = Limits()
    [operation] = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return bool(
        list(measure(schema, document, limits))
        or operation_cost(schema, operation, document, limits, variables)
    )


def literal(value: Any, type_: GraphQLInputType) -> str:
    """`value` (a JSON input value) as a GraphQL literal of `type_`."""
    if value is None:
        return "null"
    nullable = get_nullable_type(type_)
    if isinstance(nullable, GraphQLList):
        items = value if isinstance(value, list) else [value]
        return "[" + ", ".join(literal(item, nullable.of_type) for item in items) + "]"
    if isinstance(nullable, GraphQLEnumType):
        return str(value)
    if isinstance(nullable, GraphQLInputObjectType):
        fields = nullable.fields
        return "{" + ", ".join(f"{k}: {literal(v, fields[k].type)}" for k, v in value.items()) + "}"
    return _untyped(value)


def _untyped(value: Any) -> str:
    """A literal for a custom scalar that takes any JSON (federation's `_Any`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_untyped(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_untyped(v) for v in value) + "]"
    return json.dumps(value)


class _Document:
    """One document being built: its variables, fragments and the response names it used."""

    def __init__(
        self, schema: GraphQLSchema, values: Mapping[str, Sequence[Any]], rng: random.Random
    ) -> None:
        self.schema = schema
        self.values = values
        self.rng = rng
        self.definitions: list[str] = []
        self.variables: dict[str, Any] = {}
        self.fragments: dict[str, str] = {}
        self.fragments_on: dict[str, list[str]] = {}
        self.used: dict[str, str] = {}
        """Unaliased response name -> its return type and arguments: one name always means
        one thing in the whole document, so any two selections of it can merge."""
        self.counter = 0

    def build(self, roots: Sequence[str], name: str) -> CorpusQuery:
        query_type = self.schema.query_type
        assert query_type is not None
        items = ["__typename"] if self.rng.random() < 0.3 else []
        picked = [self.rng.choice(roots)]
        if len(roots) > 1 and self.rng.random() < 0.3:
            picked.append(self.rng.choice(roots))
        for root in picked:
            items += self._field(query_type, root, 0)
        body = "{ " + " ".join(items) + " }"
        fragments = " ".join(self.fragments.values())
        if self.definitions or self.rng.random() < 0.5:
            variables = f"({', '.join(self.definitions)})" if self.definitions else ""
            header = f"query {name}{variables}"
            document = f"{header} {body} {fragments}".strip()
        else:
            document = f"{body} {fragments}".strip()
        return CorpusQuery(document, self.variables)

    def _next(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    # --- selections ---------------------------------------------------------------------

    def _selection_set(self, type_: GraphQLNamedType, depth: int) -> str:
        if isinstance(type_, GraphQLUnionType | GraphQLInterfaceType):
            items = self._abstract(type_, depth)
        else:
            assert isinstance(type_, GraphQLObjectType)
            items = self._object(type_, depth)
            items = self._grouped(type_, items)
        return "{ " + " ".join(items or ["__typename"]) + " }"

    def _object(self, type_: GraphQLObjectType, depth: int) -> list[str]:
        names = [
            n
            for n, f in type_.fields.items()
            if depth < MAX_DEPTH or not is_composite_type(get_named_type(f.type))
        ]
        items = ["__typename"] if self.rng.random() < 0.6 else []
        if not names:  # only composite fields, at the depth limit
            return items
        picked = self.rng.sample(names, self.rng.randint(1, min(MAX_FIELDS, len(names))))
        for name in picked:
            items += self._field(type_, name, depth)
        self.rng.shuffle(items)
        return items

    def _abstract(self, type_: GraphQLUnionType | GraphQLInterfaceType, depth: int) -> list[str]:
        items = ["__typename"] if self.rng.random() < 0.8 else []
        if isinstance(type_, GraphQLInterfaceType):
            items += self._object(type_, depth)  # type: ignore[arg-type]
        for member in self.schema.get_possible_types(type_):
            if self.rng.random() < 0.7:
                items.append(f"... on {member.name} {self._selection_set(member, depth)}")
        return items

    def _grouped(self, type_: GraphQLObjectType, items: list[str]) -> list[str]:
        """Some of `items` moved into an inline fragment, a conditional one or a named one."""
        if len(items) < 2:
            return items
        cut = self.rng.randint(1, len(items))
        part, rest = items[:cut], items[cut:]
        inner = "{ " + " ".join(part) + " }"
        roll = self.rng.random()
        if roll < 0.15:
            return [f"... on {type_.name} {inner}", *rest]
        if roll < 0.25:
            return [f"...{self._directive()} {inner}", *rest]
        if roll < 0.45:
            reused = self.fragments_on.get(type_.name)
            name = self._next("F")
            self.fragments[name] = f"fragment {name} on {type_.name} {inner}"
            self.fragments_on.setdefault(type_.name, []).append(name)
            spreads = [f"...{name}"]
            if reused and self.rng.random() < 0.5:
                spreads.append(f"...{self.rng.choice(reused)}")
            return [*spreads, *rest]
        return items

    def _directive(self) -> str:
        roll = self.rng.random()
        if roll < 0.2:
            return f" @include(if: {self.rng.choice(['true', 'false'])})"
        which, default = ("skip", False) if roll < 0.6 else ("include", True)
        name = f"{which}It"
        if f"${name}: Boolean" not in " ".join(self.definitions):
            self.definitions.append(f"${name}: Boolean = {json.dumps(default)}")
            if self.rng.random() < 0.5:
                self.variables[name] = self.rng.random() < 0.5
        return f" @{which}(if: ${name})"

    def _field(self, parent: GraphQLObjectType, name: str, depth: int) -> list[str]:
        field = parent.fields[name]
        named = get_named_type(field.type)
        composite = is_composite_type(named)
        args = self._arguments(parent, name, field)
        sub = " " + self._selection_set(named, depth + 1) if composite else ""
        directive = self._directive() if self.rng.random() < 0.1 else ""
        signature = f"{field.type}{args}"
        alias = ""
        if self.rng.random() < 0.15 or self.used.setdefault(name, signature) != signature:
            alias = self._next("a") + ": "
        items = [f"{alias}{name}{args}{directive}{sub}"]
        if field.args and self.rng.random() < 0.25:  # the same field again, other arguments
            other = self._arguments(parent, name, field)
            again = " " + self._selection_set(named, depth + 1) if composite else ""
            items.append(f"{self._next('a')}: {name}{other}{again}")
        if not alias and self.rng.random() < 0.1:  # the same key again: merged
            again = " " + self._selection_set(named, depth + 1) if composite else ""
            items.append(f"{name}{args}{again}")
        return items

    # --- arguments ------------------------------------------------------------------------

    def _arguments(self, parent: GraphQLObjectType, name: str, field: GraphQLField) -> str:
        parts = []
        for arg_name, arg in field.args.items():
            required = isinstance(arg.type, GraphQLNonNull) and arg.default_value is Undefined
            if not required and self.rng.random() > 0.45:
                continue
            key = f"{parent.name}.{name}.{arg_name}"
            value = self._value(key, arg.type)
            if self.rng.random() < 0.3:
                parts.append(f"{arg_name}: {self._variable(key, arg.type, value)}")
            else:
                parts.append(f"{arg_name}: {literal(value, arg.type)}")
        return "(" + ", ".join(parts) + ")" if parts else ""

    def _variable(self, key: str, type_: GraphQLInputType, value: Any) -> str:
        """A variable for an argument: with a default (`value`) that the request may override,
        or without one and `value` sent."""
        name = self._next("v")
        if self.rng.random() < 0.5:
            self.definitions.append(f"${name}: {type_} = {literal(value, type_)}")
            if self.rng.random() < 0.5:
                self.variables[name] = self._value(key, type_)
        else:
            self.definitions.append(f"${name}: {type_}")
            self.variables[name] = value
        return f"${name}"

    def _value(self, key: str | None, type_: GraphQLInputType) -> Any:
        """A value from `values` for the argument at `key` (Type.field.arg), else by type."""
        if key is not None:
            _, field, arg = key.split(".")
            for candidate in (key, f"{field}.{arg}", arg):
                if candidate in self.values:
                    return self.rng.choice(list(self.values[candidate]))
        nullable = get_nullable_type(type_)
        if isinstance(nullable, GraphQLList):
            return [self._value(None, nullable.of_type)]
        if isinstance(nullable, GraphQLEnumType):
            return self.rng.choice(list(nullable.values))
        if isinstance(nullable, GraphQLInputObjectType):
            return {
                k: self._value(None, f.type)
                for k, f in nullable.fields.items()
                if isinstance(f.type, GraphQLNonNull) or self.rng.random() < 0.5
            }
        assert isinstance(nullable, GraphQLScalarType)
        return self.rng.choice(DEFAULTS.get(nullable.name, ["x"]))
