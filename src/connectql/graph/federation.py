"""The served schema as an Apollo Federation v2 subgraph (`federation: {enabled: true}`).

The schema gains what a gateway asks a subgraph for, as federation libraries add it:

    _service: _Service!                                     # { sdl }
    _entities(representations: [_Any!]!): [_Entity]!       # when some type has a key
    scalar _Any, scalar FieldSet, scalar link__Import, enum link__Purpose
    union _Entity = every connector type with a `key`
    directive @key, @link, @shareable

The `sdl` is the subgraph a gateway composes: the connectors' namespace root fields and
their types only (the control-plane and builder API stay on each process's own /graphql),
`@key(fields: …)` on every type with `key` and `lookup` (`resolvable: false` without a
lookup), `@shareable` on object types that are not a connector's own (`PageInfo`, `Binary`),
which another connectql subgraph defines too. It is printed by graphql-core and the
directives are added to its AST, once per schema, when a gateway first asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphql import (
    BooleanValueNode,
    ConstArgumentNode,
    ConstDirectiveNode,
    ConstListValueNode,
    ConstValueNode,
    DirectiveLocation,
    DocumentNode,
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLDirective,
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    GraphQLUnionType,
    NameNode,
    ObjectTypeDefinitionNode,
    SchemaExtensionNode,
    StringValueNode,
    ValueNode,
    parse,
    print_ast,
    print_schema,
    value_from_ast_untyped,
)

from connectql.graph.types import ConnectorTypes, ResolverFactory
from connectql.resolvers.entities import Entity
from connectql.spec.entities import key_fields, lookup_of
from connectql.spec.models import ObjectType

FEDERATION_URL = "https://specs.apollo.dev/federation/v2.3"
IMPORTS = ("@key", "@shareable")
"""What the sdl imports from the federation spec (@link itself needs no import)."""


def _identity(value: Any) -> Any:
    return value


def _literal(node: ValueNode, variables: Any = None) -> Any:
    return value_from_ast_untyped(node, variables)


GraphQLAny = GraphQLScalarType(
    "_Any",
    description="An entity representation: its `__typename` and key fields.",
    serialize=_identity,
    parse_value=_identity,
    parse_literal=_literal,
)
GraphQLFieldSet = GraphQLScalarType("FieldSet", description="Fields of an entity's key.")
GraphQLLinkImport = GraphQLScalarType("link__Import", description="What @link imports.")
GraphQLLinkPurpose = GraphQLEnumType(
    "link__Purpose", {"SECURITY": "SECURITY", "EXECUTION": "EXECUTION"}
)
GraphQLService = GraphQLObjectType(
    "_Service",
    {"sdl": GraphQLField(GraphQLNonNull(GraphQLString), description="The subgraph's schema.")},
)
KEY = GraphQLDirective(
    "key",
    [DirectiveLocation.OBJECT, DirectiveLocation.INTERFACE],
    {
        "fields": GraphQLArgument(GraphQLNonNull(GraphQLFieldSet)),
        "resolvable": GraphQLArgument(GraphQLBoolean, default_value=True),
    },
    is_repeatable=True,
)
LINK = GraphQLDirective(
    "link",
    [DirectiveLocation.SCHEMA],
    {
        "url": GraphQLArgument(GraphQLNonNull(GraphQLString)),
        "as": GraphQLArgument(GraphQLString),
        "import": GraphQLArgument(GraphQLList(GraphQLLinkImport)),
        "for": GraphQLArgument(GraphQLLinkPurpose),
    },
    is_repeatable=True,
)
SHAREABLE = GraphQLDirective(
    "shareable",
    [DirectiveLocation.OBJECT, DirectiveLocation.FIELD_DEFINITION],
    is_repeatable=True,
)
DIRECTIVES = (KEY, LINK, SHAREABLE)


def _directive(name: str, **args: Any) -> ConstDirectiveNode:
    def value(given: Any) -> ConstValueNode:
        if isinstance(given, bool):
            return BooleanValueNode(value=given)
        if isinstance(given, (list, tuple)):
            return ConstListValueNode(values=tuple(value(item) for item in given))
        return StringValueNode(value=str(given))

    return ConstDirectiveNode(
        name=NameNode(value=name),
        arguments=tuple(
            ConstArgumentNode(name=NameNode(value=key), value=value(given))
            for key, given in args.items()
        ),
    )


def _definition_name(definition: Any) -> str:
    return str(definition.name.value)


class Subgraph:
    """The federation part of one schema built from `parts` (one per running connector)."""

    def __init__(self, parts: Sequence[ConnectorTypes], resolvers: ResolverFactory) -> None:
        self.parts = sorted(parts, key=lambda part: part.connector.name)
        self.entities: dict[str, Entity] = {}
        self._objects: dict[str, GraphQLObjectType] = {}
        for part in self.parts:
            built = {named.name: named for named in part.all_named_types()}
            for name, spec in part.spec.types.items():
                if isinstance(spec, ObjectType) and spec.key is not None:
                    typename = part.prefix + name
                    self.entities[typename] = Entity(
                        typename, part.connector, key_fields(spec), lookup_of(spec)
                    )
                    found = built[typename]
                    assert isinstance(found, GraphQLObjectType)
                    self._objects[typename] = found
        self._resolvers = resolvers.entities(self.entities) if self.entities else None
        self._union = (
            GraphQLUnionType(
                "_Entity",
                [self._objects[name] for name in sorted(self._objects)],
                resolve_type=self._resolvers.resolve_type,
            )
            if self._resolvers is not None
            else None
        )
        self._sdl: str | None = None

    def root_fields(self) -> dict[str, GraphQLField]:
        """`_service`, and `_entities` when some type has a key: for the Query type."""

        def resolve_service(parent: Any, info: Any) -> dict[str, str]:
            return {"sdl": self.sdl()}

        fields = {"_service": GraphQLField(GraphQLNonNull(GraphQLService), resolve=resolve_service)}
        if self._union is not None and self._resolvers is not None:
            representations = GraphQLNonNull(GraphQLList(GraphQLNonNull(GraphQLAny)))
            fields["_entities"] = GraphQLField(
                GraphQLNonNull(GraphQLList(self._union)),
                args={"representations": GraphQLArgument(representations)},
                resolve=self._resolvers.resolve,
            )
        return fields

    def types(self) -> list[GraphQLNamedType]:
        named: list[GraphQLNamedType] = [
            GraphQLAny,
            GraphQLFieldSet,
            GraphQLLinkImport,
            GraphQLLinkPurpose,
            GraphQLService,
        ]
        return [*named, self._union] if self._union is not None else named

    def sdl(self) -> str:
        """The subgraph schema a gateway composes (built once, on first use)."""
        if self._sdl is None:
            self._sdl = self._print()
        return self._sdl

    def _print(self) -> str:
        query = {part.connector.name: part.query for part in self.parts}
        mutation = {
            part.connector.name: part.mutation for part in self.parts if part.mutation is not None
        }
        schema = GraphQLSchema(
            query=GraphQLObjectType("Query", query),
            mutation=GraphQLObjectType("Mutation", mutation) if mutation else None,
            types=[named for part in self.parts for named in part.all_named_types()],
        )
        printed = parse(print_schema(schema), no_location=True)
        prefixes = tuple(part.prefix for part in self.parts)
        definitions: list[Any] = [  # definitions, and the schema extension
            SchemaExtensionNode(
                directives=(_directive("link", url=FEDERATION_URL, **{"import": IMPORTS}),),
                operation_types=(),
            )
        ]
        # By name, fields in their declared order: the same connectors print the same.
        for definition in sorted(printed.definitions, key=_definition_name):
            if isinstance(definition, ObjectTypeDefinitionNode):
                definition = self._annotated(definition, prefixes)
            definitions.append(definition)
        return print_ast(DocumentNode(definitions=tuple(definitions))) + "\n"

    def _annotated(
        self, definition: ObjectTypeDefinitionNode, prefixes: tuple[str, ...]
    ) -> ObjectTypeDefinitionNode:
        name = definition.name.value
        added: list[ConstDirectiveNode] = []
        entity = self.entities.get(name)
        if entity is not None:
            fields = " ".join(entity.key)
            if entity.lookup is not None:
                added.append(_directive("key", fields=fields))
            else:
                added.append(_directive("key", fields=fields, resolvable=False))
        elif name not in ("Query", "Mutation") and not name.startswith(prefixes):
            added.append(_directive("shareable"))  # PageInfo, Binary: every connectql has them
        if not added:
            return definition
        return ObjectTypeDefinitionNode(
            description=definition.description,
            name=definition.name,
            interfaces=definition.interfaces,
            directives=(*(definition.directives or ()), *added),
            fields=definition.fields,
        )
