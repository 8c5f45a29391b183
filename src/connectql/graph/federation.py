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
which another connectql subgraph defines too. graphql-core prints each type; one that takes
directives is parsed, given them on its AST node and printed again (the whole SDL through the
AST costs seconds for 100 connectors). Each connector's part is printed once, when a gateway
first asks, and reused by later schemas while the connector is unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from weakref import WeakKeyDictionary

from graphql import (
    BooleanValueNode,
    ConstArgumentNode,
    ConstDirectiveNode,
    ConstListValueNode,
    ConstValueNode,
    DirectiveLocation,
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLDirective,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLString,
    GraphQLUnionType,
    NameNode,
    ObjectTypeDefinitionNode,
    SchemaExtensionNode,
    StringValueNode,
    get_named_type,
    is_specified_scalar_type,
    parse,
    print_ast,
    print_type,
)

from connectql.graph.scalars import passthrough_scalar
from connectql.graph.types import ConnectorTypes, ResolverFactory
from connectql.resolvers.entities import Entity
from connectql.spec.entities import key_fields, lookup_of
from connectql.spec.models import ObjectType

FEDERATION_URL = "https://specs.apollo.dev/federation/v2.3"
IMPORTS = ("@key", "@shareable")
"""What the sdl imports from the federation spec (@link itself needs no import)."""


GraphQLAny = passthrough_scalar(
    "_Any", "An entity representation: its `__typename` and key fields."
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
        query: dict[str, GraphQLField] = {}
        mutation: dict[str, GraphQLField] = {}
        for part in self.parts:
            part_query, part_mutation = part.root_fields()
            query.update(part_query)
            mutation.update(part_mutation)
        roots = [GraphQLObjectType("Query", query)]
        if mutation:
            roots.append(GraphQLObjectType("Mutation", mutation))
        printed = {named.name: print_type(named) for named in roots}
        for part in self.parts:
            for name, text in _part_definitions(part).items():
                printed.setdefault(name, text)  # PageInfo, Binary: the same in every part
        link = SchemaExtensionNode(
            directives=(_directive("link", url=FEDERATION_URL, **{"import": IMPORTS}),),
            operation_types=(),
        )
        # By name, fields in their declared order: the same connectors print the same.
        return "\n\n".join([print_ast(link), *(printed[name] for name in sorted(printed))]) + "\n"


_printed: WeakKeyDictionary[ConnectorTypes, dict[str, str]] = WeakKeyDictionary()
"""Each connector's definitions, printed once: a rebuild reuses unchanged connectors' types."""


def _part_definitions(part: ConnectorTypes) -> dict[str, str]:
    """The SDL of every type of one connector's part, by name, with its federation
    directives: `@key` on its entities, `@shareable` on the types that are not its own."""
    found = _printed.get(part)
    if found is not None:
        return found
    found = {}
    pending: list[GraphQLNamedType] = part.all_named_types()
    for fields in part.root_fields():
        for field in fields.values():
            pending.append(get_named_type(field.type))
            pending.extend(get_named_type(arg.type) for arg in field.args.values())
    while pending:
        named = pending.pop()
        if named.name in found or is_specified_scalar_type(named):
            continue
        found[named.name] = _printed_type(part, named)
        if isinstance(named, (GraphQLObjectType, GraphQLInputObjectType)):
            for field in named.fields.values():
                pending.append(get_named_type(field.type))
                for arg in getattr(field, "args", {}).values():
                    pending.append(get_named_type(arg.type))
        elif isinstance(named, GraphQLUnionType):
            pending.extend(named.types)
    _printed[part] = found
    return found


def _printed_type(part: ConnectorTypes, named: GraphQLNamedType) -> str:
    """graphql-core's SDL of `named`; an object type that takes directives goes through
    its AST: parsed, the directives added to its node, printed again."""
    if not isinstance(named, GraphQLObjectType):
        return print_type(named)
    added: list[ConstDirectiveNode] = []
    spec = part.spec.types.get(named.name.removeprefix(part.prefix))
    if named.name.startswith(part.prefix):
        if isinstance(spec, ObjectType) and spec.key is not None:
            fields = " ".join(key_fields(spec))
            if spec.lookup is not None:
                added.append(_directive("key", fields=fields))
            else:
                added.append(_directive("key", fields=fields, resolvable=False))
    else:
        added.append(_directive("shareable"))  # PageInfo, Binary: every connectql has them
    if not added:
        return print_type(named)
    [definition] = parse(print_type(named), no_location=True).definitions
    assert isinstance(definition, ObjectTypeDefinitionNode)
    return print_ast(
        ObjectTypeDefinitionNode(
            description=definition.description,
            name=definition.name,
            interfaces=definition.interfaces,
            directives=(*(definition.directives or ()), *added),
            fields=definition.fields,
        )
    )
