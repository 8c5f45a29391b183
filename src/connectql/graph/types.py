"""GraphQL types built directly with graphql-core from running connectors' specs.

Strawberry classes are too slow to generate at scale (see DESIGN.md, measured facts), so
connector types are graphql-core objects; the static control plane stays strawberry and
`compose.py` joins the two. Resolvers are injected (`ResolverFactory`): this module only
shapes types and never calls an upstream.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, cast
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLError,
    GraphQLField,
    GraphQLFieldResolver,
    GraphQLFloat,
    GraphQLID,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInt,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLString,
    GraphQLType,
    GraphQLUnionType,
    Undefined,
    get_named_type,
    is_specified_scalar_type,
    print_type,
)

from connectql.connectors.connector import Connector
from connectql.errors import SchemaBuildError
from connectql.graph.scalars import GraphQLLong, passthrough_scalar
from connectql.resolvers.entities import Entity, EntityResolvers
from connectql.resolvers.errors import bad_value
from connectql.resolvers.files import file_args
from connectql.resolvers.kinds import (
    KIND,
    Discriminated,
    Linked,
    Loaded,
    Namespace,
    Read,
    Upstream,
    tag,
)
from connectql.spec.exposure import hidden_only_types
from connectql.spec.models import (
    ArgSpec,
    EnumType,
    FieldSpec,
    InputType,
    ObjectType,
    Operation,
    Resolve,
    UnionType,
)
from connectql.spec.naming import enum_value_name
from connectql.spec.paths import parse_path, single_key
from connectql.spec.typeref import BINARY, FILE_INPUT, TypeRef, parse_type_ref

Info = GraphQLResolveInfo[Any]


GraphQLJSON = passthrough_scalar("JSON", "Any JSON value, passed through as the upstream sent it.")

BUILTIN_TYPES: dict[str, GraphQLScalarType] = {
    "String": GraphQLString,
    "Int": GraphQLInt,
    "Long": GraphQLLong,
    "Float": GraphQLFloat,
    "Boolean": GraphQLBoolean,
    "ID": GraphQLID,
    "JSON": GraphQLJSON,
}


def _upload_value(value: Any) -> Any:
    if callable(getattr(value, "read", None)) and hasattr(value, "filename"):
        return value  # a file of a GraphQL multipart request, read by the resolver
    raise GraphQLError(
        "Upload takes a file of a GraphQL multipart request; in a JSON body, give `base64`"
    )


def _upload_literal(node: Any, variables: Any = None) -> Any:
    raise GraphQLError("a file cannot be written into the document: send it as a variable")


def _not_output(value: Any) -> Any:
    raise GraphQLError("Upload is an input type")


GraphQLUpload = GraphQLScalarType(
    "Upload",
    description="A file of a GraphQL multipart request (the spec Apollo and gql clients "
    "follow): the request's `map` points a variable at one of its file parts.",
    serialize=_not_output,
    parse_value=_upload_value,
    parse_literal=_upload_literal,
)

GraphQLFileInput = GraphQLInputObjectType(
    FILE_INPUT,
    {
        "upload": GraphQLInputField(
            GraphQLUpload, description="The file, uploaded as a part of a multipart request."
        ),
        "base64": GraphQLInputField(
            GraphQLString, description="The file's bytes, base64-encoded (for JSON bodies)."
        ),
        "filename": GraphQLInputField(
            GraphQLString, description="Default: the uploaded file's name, else `file`."
        ),
        "contentType": GraphQLInputField(
            GraphQLString,
            description="Default: the uploaded file's type, else application/octet-stream.",
        ),
    },
    description="A file to send upstream: exactly one of `upload` and `base64`.",
)


PageInfo = GraphQLObjectType(
    "PageInfo",
    description="Relay page information.",
    fields={
        "hasNextPage": GraphQLField(GraphQLNonNull(GraphQLBoolean)),
        "hasPreviousPage": GraphQLField(GraphQLNonNull(GraphQLBoolean)),
        "startCursor": GraphQLField(GraphQLString),
        "endCursor": GraphQLField(GraphQLString),
    },
)


class ResolverFactory(Protocol):
    """Builds resolver functions; implemented in `connectql.resolvers`."""

    def namespace(self, connector: Connector, *, mutation: bool) -> GraphQLFieldResolver: ...

    def operation(self, connector: Connector, op_name: str) -> GraphQLFieldResolver: ...

    def connection(
        self, connector: Connector, op_name: str, link: Resolve | None
    ) -> GraphQLFieldResolver: ...

    def link(self, connector: Connector, link: Resolve) -> GraphQLFieldResolver: ...

    def linked_list(
        self, connector: Connector, op_name: str, link: Resolve
    ) -> GraphQLFieldResolver:
        """A paginated operation linked with `connection: false`: a plain list."""
        ...

    def binary_field(self, name: str) -> GraphQLFieldResolver:
        """`base64` or `url` of a Binary result."""
        ...

    def subscription(self, connector: Connector, op_name: str) -> GraphQLFieldResolver:
        """The `subscribe` function of a subscription operation: an async iterator of events."""
        ...

    def entities(self, entities: Mapping[str, Entity]) -> EntityResolvers:
        """`_entities` and `_Entity`'s resolve_type of a federation subgraph."""
        ...


def _attribute(name: str) -> GraphQLFieldResolver:
    def resolve(parent: Any, info: Info) -> Any:
        return getattr(parent, name, None)

    return resolve


_binary_types: WeakKeyDictionary[ResolverFactory, GraphQLObjectType] = WeakKeyDictionary()
"""One Binary type per resolver factory: a schema holds one type of each name."""


def binary_type(resolvers: ResolverFactory) -> GraphQLObjectType:
    """The type of a bytes result (`connectql.connectors.files.BinaryBody`)."""
    found = _binary_types.get(resolvers)
    if found is None:
        string = GraphQLNonNull(GraphQLString)
        found = GraphQLObjectType(
            BINARY,
            {
                "contentType": GraphQLField(
                    string, resolve=_attribute("content_type"), description="As the upstream said."
                ),
                "filename": GraphQLField(
                    GraphQLString,
                    resolve=_attribute("filename"),
                    description="From the upstream's Content-Disposition, if it gave one.",
                ),
                "size": GraphQLField(
                    GraphQLNonNull(GraphQLInt), resolve=_attribute("size"), description="Bytes."
                ),
                "sha256": GraphQLField(
                    string, resolve=_attribute("sha256"), description="Hex SHA-256 of the bytes."
                ),
                "base64": GraphQLField(
                    GraphQLString,
                    resolve=resolvers.binary_field("base64"),
                    description="The bytes, base64-encoded: up to limits.max_inline_binary "
                    "(larger files give an error PAYLOAD_TOO_LARGE; fetch them by `url`).",
                ),
                "url": GraphQLField(
                    string,
                    resolve=resolvers.binary_field("url"),
                    description="A download link served by connectql, valid for "
                    "limits.download_ttl seconds to whoever holds it.",
                ),
            },
            description="A file the upstream answered with (audio, an image, an archive).",
        )
        _binary_types[resolvers] = found
    return found


def _nullable(ref: TypeRef) -> TypeRef:
    return TypeRef(ref.name, _nullable(ref.of) if ref.of is not None else None)


def type_prefix(connector_name: str) -> str:
    """`bookstore` → `Bookstore`, `my_api` → `MyApi`: the prefix of every type name."""
    return "".join(part[:1].upper() + part[1:] for part in connector_name.split("_"))


def _path_resolver(text: str) -> GraphQLFieldResolver:
    path = parse_path(text)

    def resolve(parent: Any, info: Info, **_: Any) -> Any:
        return path.get(parent)

    return resolve


def _key_resolver(key: str) -> GraphQLFieldResolver:
    def resolve(parent: Any, info: Info, **_: Any) -> Any:
        return parent.get(key) if isinstance(parent, dict) else None

    return resolve


def _required(resolve: GraphQLFieldResolver, connector: str, declared: str) -> GraphQLFieldResolver:
    """A lenient connector's field declared non-null (nullable in its schema): a missing
    value is still reported, once, and the field is null."""

    def check(parent: Any, info: Info, **args: Any) -> Any:
        value = resolve(parent, info, **args)
        if value is None:
            field = f"{info.parent_type.name}.{info.field_name}"
            where = ".".join(str(key) for key in info.path.as_list())
            raise bad_value(connector, field, declared, where, "it is missing or null")
        return value

    return check


def _guarded(field: GraphQLField, guard: GraphQLFieldResolver) -> GraphQLField:
    """`field` resolved only after `guard` (the namespace resolver's check) allows it."""
    resolve = field.resolve
    assert resolve is not None

    def checked(parent: Any, info: Info, **args: Any) -> Any:
        guard(parent, info)
        return resolve(parent, info, **args)

    field.resolve = checked
    return field


def fallible(gtype: GraphQLOutputType) -> GraphQLOutputType:
    """The type of a field that calls an upstream: nullable at its top, whatever the spec
    declares inside, so a failed call nulls that field alone (with its error) and never its
    parent, its namespace or the whole `data`: siblings keep their answers."""
    return gtype.of_type if isinstance(gtype, GraphQLNonNull) else gtype


class ConnectorTypes:
    """The GraphQL types of one connector: its namespace query and mutation objects."""

    def __init__(
        self,
        connector: Connector,
        resolvers: ResolverFactory,
        joins: Mapping[str, Mapping[str, Callable[[], GraphQLField]]] | None = None,
        joins_key: Any = (),
    ) -> None:
        self.connector = connector
        self.joins = joins or {}
        """Fields other connectors resolve, by spec type and field name (graph/joins.py)."""
        self.joins_key = joins_key
        """What `joins` were built from: the types are rebuilt when it changes."""
        self.spec = connector.spec
        self.prefix = type_prefix(connector.name)
        self._resolvers = resolvers
        self._named: dict[str, GraphQLNamedType] = {}
        self._connections: dict[str, GraphQLObjectType] = {}
        self._root_fields: tuple[dict[str, GraphQLField], dict[str, GraphQLField]] | None = None
        self._marks = {"connector": connector.name}
        """Extensions of every object type shaped from this connector's upstream data: its
        fields' completion errors are the upstream's (BAD_RESPONSE, resolvers/errors.py)."""
        self.query, self.mutation = self._namespaces()

    # --- names and references ----------------------------------------------------------

    def _named_type(self, name: str) -> GraphQLNamedType:
        if name in BUILTIN_TYPES:
            return BUILTIN_TYPES[name]
        if name == FILE_INPUT:
            return GraphQLFileInput
        if name == BINARY:
            return binary_type(self._resolvers)
        if name not in self._named:
            spec = self.spec.types.get(name)
            if spec is None:
                raise SchemaBuildError(f"connector {self.connector.name!r}: unknown type {name!r}")
            self._named[name] = self._build(name, spec)
        return self._named[name]

    def _ref(self, ref: TypeRef) -> GraphQLType:
        inner: GraphQLType = (
            GraphQLList(self._ref(ref.of)) if ref.of is not None else self._named_type(ref.base)
        )
        return GraphQLNonNull(cast(Any, inner)) if ref.non_null else inner

    def output(self, text: str) -> GraphQLOutputType:
        """An output type; all nullable for a lenient connector (`source.strict: false`)."""
        ref = parse_type_ref(text)
        return self._ref(ref if self.spec.source.strict else _nullable(ref))  # type: ignore[return-value]

    def input(self, text: str) -> GraphQLInputType:
        return self._ref(parse_type_ref(text))  # type: ignore[return-value]

    # --- declared types ----------------------------------------------------------------

    def _build(self, name: str, spec: Any) -> GraphQLNamedType:
        full = self.prefix + name
        if isinstance(spec, EnumType):
            values = (
                {enum_value_name(v): v for v in spec.values}
                if isinstance(spec.values, list)
                else dict(spec.values)
            )
            return GraphQLEnumType(
                full,
                {k: GraphQLEnumValue(v) for k, v in values.items()},
                description=spec.description,
            )
        if isinstance(spec, InputType):
            return GraphQLInputObjectType(
                full,
                lambda: {
                    fname: GraphQLInputField(
                        self.input(f.type),
                        description=f.description,
                        out_name=single_key(f.from_) if f.from_ else None,
                    )
                    for fname, f in spec.fields.items()
                },
                description=spec.description,
            )
        if isinstance(spec, UnionType):
            return self._union(full, spec)
        assert isinstance(spec, ObjectType)
        joined = self.joins.get(name, {})
        return GraphQLObjectType(
            full,
            lambda: {
                **{fname: self._object_field(fname, f) for fname, f in spec.fields.items()},
                **{fname: make() for fname, make in joined.items()},
            },
            description=spec.description,
            extensions=self._marks,
        )

    def _union(self, full: str, spec: UnionType) -> GraphQLUnionType:
        discriminator = parse_path(spec.discriminator.field)
        mapping = {k: self.prefix + v for k, v in spec.discriminator.mapping.items()}

        def resolve_type(value: Any, info: Info, _type: Any) -> str | None:
            return mapping.get(str(discriminator.get(value)))

        return GraphQLUnionType(
            full,
            lambda: [self._named_type(t) for t in spec.types],  # type: ignore[misc]
            resolve_type=resolve_type,
            description=spec.description,
            extensions={KIND: Discriminated(resolve_type, discriminator, mapping)},
        )

    def _object_field(self, fname: str, f: FieldSpec) -> GraphQLField:
        if f.resolve is None:
            resolver = _path_resolver(f.from_) if f.from_ else _key_resolver(fname)
            required = None
            if not self.spec.source.strict and parse_type_ref(f.type).non_null:
                required = (self.connector.name, f.type)
                resolver = _required(resolver, *required)
            read = (
                Read(resolver, path=parse_path(f.from_), required=required)
                if f.from_
                else Read(resolver, key=fname, required=required)
            )
            return tag(
                GraphQLField(
                    self.output(f.type),
                    resolve=resolver,
                    description=f.description,
                    deprecation_reason=f.deprecated,
                ),
                read,
            )
        target = self.spec.operations[f.resolve.operation]
        if target.is_paginated and not f.resolve.connection:
            return self._list_field(f.resolve.operation, target, f.resolve, f)
        if target.is_paginated:
            return self._connection_field(f.resolve.operation, target, f.resolve, f)
        return self._linked(
            GraphQLField(
                fallible(self.output(f.type)),
                args=self._arguments(f.args),
                resolve=self._resolvers.link(self.connector, f.resolve),
                description=f.description,
                deprecation_reason=f.deprecated,
            ),
            f.resolve,
        )

    def _linked(self, field: GraphQLField, link: Resolve) -> GraphQLField:
        assert field.resolve is not None
        return tag(field, Linked(field.resolve, self.connector, link))

    @staticmethod
    def _upstream(field: GraphQLField) -> GraphQLField:
        assert field.resolve is not None
        return tag(field, Upstream(field.resolve))

    def linked_field(self, link: Resolve, description: str | None = None) -> GraphQLField:
        """A field of another connector's type resolved by one of this connector's
        operations (a join), built as a local link to that operation is."""
        op = self.spec.operations[link.operation]
        if op.is_paginated:
            made = self._connection_field(link.operation, op, link)
        else:
            made = self._linked(
                GraphQLField(
                    fallible(self.output(op.response.type)),
                    resolve=self._resolvers.link(self.connector, link),
                    description=op.description,
                ),
                link,
            )
        if description:
            made.description = description
        return made

    # --- operations --------------------------------------------------------------------

    def _args(self, op: Operation, skip: Mapping[str, Any] = {}) -> dict[str, GraphQLArgument]:
        return self._arguments({name: arg for name, arg in op.args.items() if name not in skip})

    def _arguments(self, specs: Mapping[str, ArgSpec]) -> dict[str, GraphQLArgument]:
        out: dict[str, GraphQLArgument] = {}
        for name, arg in specs.items():
            gtype = self.input(arg.type)
            if arg.default is not None and isinstance(gtype, GraphQLNonNull):
                gtype = gtype.of_type
            out[name] = GraphQLArgument(
                gtype,
                default_value=arg.default if arg.default is not None else Undefined,
                description=arg.description,
            )
        return out

    def connection_type(self, item: str) -> GraphQLObjectType:
        if item not in self._connections:
            node: Any = self._named_type(item)
            if self.spec.source.strict:
                node = GraphQLNonNull(node)
            edge = GraphQLObjectType(
                f"{self.prefix}{item}Edge",
                {
                    "cursor": GraphQLField(GraphQLNonNull(GraphQLString)),
                    "node": GraphQLField(node),
                },
                extensions=self._marks,
            )
            self._connections[item] = GraphQLObjectType(
                f"{self.prefix}{item}Connection",
                {
                    "edges": GraphQLField(GraphQLNonNull(GraphQLList(GraphQLNonNull(edge)))),
                    "nodes": GraphQLField(GraphQLNonNull(GraphQLList(node))),
                    "pageInfo": GraphQLField(GraphQLNonNull(PageInfo)),
                },
                description=f"A page of {self.prefix}{item} items (Relay connection).",
                extensions=self._marks,
            )
        return self._connections[item]

    def _connection_field(
        self, op_name: str, op: Operation, link: Resolve | None, f: FieldSpec | None = None
    ) -> GraphQLField:
        args = self._args(op, skip=link.args if link else {})
        args["first"] = GraphQLArgument(GraphQLInt, description="How many items to return.")
        args["after"] = GraphQLArgument(GraphQLString, description="Cursor to continue after.")
        args.update(self._arguments(f.args) if f else {})
        return self._upstream(
            GraphQLField(
                self.connection_type(parse_type_ref(op.response.type).base),
                args=args,
                resolve=self._resolvers.connection(self.connector, op_name, link),
                description=(f.description if f else None) or op.description,
                deprecation_reason=(f.deprecated if f else None) or op.deprecated,
            )
        )

    def _list_field(self, op_name: str, op: Operation, link: Resolve, f: FieldSpec) -> GraphQLField:
        """A paginated operation as a plain list (`connection: false`), capped by `first`."""
        pagination = op.pagination
        page_size, max_items = (getattr(pagination, k) for k in ("page_size", "max_items"))
        args = self._args(op, skip=link.args)
        args["first"] = GraphQLArgument(
            GraphQLInt,
            default_value=min(page_size, max_items),
            description=f"How many items to return (at most {max_items}).",
        )
        args.update(self._arguments(f.args))
        return self._upstream(
            GraphQLField(
                fallible(self.output(f.type)),
                args=args,
                resolve=self._resolvers.linked_list(self.connector, op_name, link),
                description=f.description or op.description,
                deprecation_reason=f.deprecated or op.deprecated,
            )
        )

    def _operation_field(self, op_name: str, op: Operation) -> GraphQLField:
        if op.is_paginated:
            return self._connection_field(op_name, op, None)
        made = GraphQLField(
            fallible(self.output(op.response.type)),
            args=self._args(op),
            resolve=self._resolvers.operation(self.connector, op_name),
            description=op.description,
            deprecation_reason=op.deprecated,
        )
        # mutations and uploads call the upstream directly: no loader keeps their answers
        if op.kind == "mutation" or file_args(op):
            return made
        if parse_type_ref(op.response.type).is_list:  # its items' links are prefetched
            return self._upstream(made)
        assert made.resolve is not None
        return tag(made, Loaded(made.resolve, self.connector, op_name))

    def _namespaces(self) -> tuple[GraphQLField, GraphQLField | None]:
        queries = self._exposed("query")
        mutations = self._exposed("mutation")
        info = self.spec.connector
        description = info.description or info.title or f"The {info.name} connector."

        def namespace(suffix: str, ops: Mapping[str, Operation]) -> GraphQLField:
            mutation = suffix == "Mutation"
            resolve = self._resolvers.namespace(self.connector, mutation=mutation)
            obj = GraphQLObjectType(
                f"{self.prefix}{suffix}",
                lambda: {n: self._operation_field(n, op) for n, op in ops.items()},
                description=description,
                extensions=self._marks,
            )
            made = GraphQLField(GraphQLNonNull(obj), resolve=resolve, description=description)
            return made if mutation else tag(made, Namespace(resolve, self.connector))

        query = namespace("Query", queries) if queries else None
        mutation = namespace("Mutation", mutations) if mutations else None
        if query is None:
            # Every connector is queryable, so its types are reachable and introspectable.
            query = GraphQLField(
                GraphQLNonNull(
                    GraphQLObjectType(
                        f"{self.prefix}Query",
                        {"name": GraphQLField(GraphQLNonNull(GraphQLString))},
                        description=description,
                    )
                ),
                resolve=lambda *_a, **_k: {"name": self.connector.name},
            )
        return query, mutation

    def _exposed(self, kind: str) -> dict[str, Operation]:
        """The operations of `kind` that have a field (not `expose: false`)."""
        return {n: op for n, op in self.spec.operations.items() if op.kind == kind and op.expose}

    def root_fields(self) -> tuple[dict[str, GraphQLField], dict[str, GraphQLField]]:
        """The fields this connector adds to the root Query and Mutation: its namespace
        fields, or with `connector.namespace: false` its operations themselves (mutations
        keep the namespace's rule: admin callers only)."""
        if self.spec.connector.namespace:
            name = self.connector.name
            return {name: self.query}, {name: self.mutation} if self.mutation else {}
        if self._root_fields is None:
            guard = self._resolvers.namespace(self.connector, mutation=True)
            queries = self._exposed("query")
            mutations = self._exposed("mutation")
            self._root_fields = (
                {n: self._operation_field(n, op) for n, op in queries.items()},
                {n: _guarded(self._operation_field(n, op), guard) for n, op in mutations.items()},
            )
        return self._root_fields

    def subscription_fields(self) -> dict[str, GraphQLField]:
        """Root Subscription fields, one per subscription operation (a subscription's event
        stream comes from a root field): `connector_operation`, or with `namespace: false`
        the operation's name."""
        fields: dict[str, GraphQLField] = {}
        for name, op in self._exposed("subscription").items():
            root = f"{self.connector.name}_{name}" if self.spec.connector.namespace else name
            args = self._args(op)
            every = op.poll.every if op.poll is not None else 5.0
            args["intervalMs"] = GraphQLArgument(
                GraphQLInt,
                default_value=int(every * 1000),
                description="Milliseconds between reads (at least 100).",
            )
            fields[root] = GraphQLField(
                self.output(op.response.type),
                args=args,
                subscribe=self._resolvers.subscription(self.connector, name),
                resolve=lambda event, _info, **_args: event,
                description=op.description,
                deprecation_reason=op.deprecated,
            )
        return fields

    def all_named_types(self) -> list[GraphQLNamedType]:
        """Every declared type, so unused ones still appear in the schema (but not input
        types and enums that only hidden operations use)."""
        hidden = hidden_only_types(self.spec)
        return [self._named_type(name) for name in self.spec.types if name not in hidden]

    def sdl(self) -> str:
        """The SDL of this connector's part of the schema: its namespaces (or root fields)
        and their types."""
        roots: list[GraphQLNamedType] = [get_named_type(self.query.type)]
        if self.mutation is not None:
            roots.append(get_named_type(self.mutation.type))
        if not self.spec.connector.namespace:
            query, mutation = self.root_fields()
            roots = [GraphQLObjectType("Query", query)] if query else []
            roots += [GraphQLObjectType("Mutation", mutation)] if mutation else []
        if subscriptions := self.subscription_fields():
            roots.append(GraphQLObjectType("Subscription", subscriptions))
        seen: dict[str, GraphQLNamedType] = {}
        pending = [*roots, *self.all_named_types()]
        while pending:
            named = pending.pop()
            if named.name in seen or named.name in BUILTIN_TYPES or is_specified_scalar_type(named):
                continue
            seen[named.name] = named
            if isinstance(named, (GraphQLObjectType, GraphQLInputObjectType)):
                for f in named.fields.values():
                    pending.append(get_named_type(f.type))
                    for arg in getattr(f, "args", {}).values():
                        pending.append(get_named_type(arg.type))
            elif isinstance(named, GraphQLUnionType):
                pending.extend(named.types)
        return "\n\n".join(print_type(seen[name]) for name in sorted(seen)) + "\n"
