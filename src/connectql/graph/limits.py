"""Query limits, on by default: document size, depth, aliases, cost and validation work.

One pass measures a document, each fragment once (memoised), and refuses it before
graphql-core's own rules run: some of those are super-linear (OverlappingFieldsCanBeMerged
compares every pair of fields sharing a response name), and strawberry's depth and alias
limiters walked a fragment again at every spread, so 1 KB of fragments nesting fragments
blocked the server for 46 s. `caches.py` runs `LimitRule`s first and the other rules only on
documents they accept.

The rules are created once per schema build, not per request, so they are the same objects
in every request and the validation cache keeps working.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from graphql import (
    BREAK,
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    Node,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.validation import MaxIntrospectionDepthRule, ValidationContext
from pydantic import BaseModel, ConfigDict, Field
from strawberry.extensions import SchemaExtension

TOO_COMPLEX = "QUERY_TOO_COMPLEX"
MAX_NESTING = 100
"""Selections along one path (fields, fragments, inline fragments, introspection included):
beyond this, recursive code (ours, graphql-core's) would approach Python's recursion limit."""
_FRAGMENT_PAIR = 4
"""Work of comparing two fragments spread side by side (their field maps), in field
comparisons: measured, like `max_validation_work`, at ~4 µs a comparison."""
_CAP = 10**12
"""Counts saturate here: a fragment bomb's expanded size is astronomically large."""


class Limits(BaseModel):
    """`limits:` in connectql.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_depth: int = Field(15, ge=1, le=MAX_NESTING // 2)
    """Deepest field nesting; introspection (`__schema`, `__type`) is not counted."""
    max_aliases: int = Field(30, ge=0)
    """Aliases in a document, counted through fragment spreads and inline fragments."""
    max_tokens: int = Field(5000, ge=10)
    """Lexical tokens in a document: a cap on its size before it is even parsed."""
    max_document_size: int = Field(100_000, ge=100)
    """Characters of a document's text (a long string literal is one token)."""
    max_cost: int = Field(50_000, ge=1)
    """Estimated fields in the answer: a field costs 1, and a list or connection multiplies
    what it selects by its `first` argument, else by `default_list_size`."""
    default_list_size: int = Field(50, ge=1)
    """Items assumed for a list, or a connection without a literal `first`."""
    max_validation_work: int = Field(10_000, ge=0)
    """Field comparisons validation may make beyond one pass: fields sharing a response name
    are compared pairwise (weighted by what they select) and every further operation in a
    document walks it again."""
    max_input_depth: int = Field(32, ge=2, le=MAX_NESTING)
    """Nesting of lists and objects in argument values and in JSON bodies (variables)."""
    max_body_size: int = Field(2_000_000, ge=1024)
    """Bytes of an HTTP request body (/graphql, /api); larger ones are answered 413 unread."""
    max_upload_size: int = Field(25 * 1024 * 1024, ge=1024)
    """Bytes of a GraphQL multipart request (file uploads) and of each file, uploaded or
    given as base64 (which travels in a JSON body, so `max_body_size` bounds it first)."""
    max_inline_binary: int = Field(1024 * 1024, ge=0)
    """Bytes a `Binary` result's `base64` field returns; larger files are fetched by `url`."""
    download_ttl: float = Field(300.0, gt=0, le=86_400)
    """Seconds a `Binary` result's download `url` stays valid."""
    max_download_bytes: int = Field(256 * 1024 * 1024, ge=0)
    """Bytes the download store holds in memory at once; the oldest links go first."""
    max_cached_document: int = Field(4096, ge=0)
    """Documents up to this many characters keep their parsed and validated form in the
    per-schema cache; larger ones are parsed and validated each time."""


class _Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _error(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": TOO_COMPLEX})


def _add(a: int, b: int) -> int:
    return min(a + b, _CAP)


def _mul(a: int, b: int) -> int:
    return min(a * b, _CAP)


@dataclass
class _Size:
    """What one selection set selects, fragments expanded (each measured once)."""

    depth: int = 0
    aliases: int = 0
    cost: int = 0
    fields: int = 0
    names: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Response name → (fields of that name, their fields plus what those select): the
    groups OverlappingFieldsCanBeMerged compares pairwise."""
    spreads: set[str] = field(default_factory=set)
    """Fragments spread here or in inline fragments here: also compared pairwise."""


class _Measure:
    """One walk of a document, fragments memoised and cycles refused."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        limits: Limits,
        variables: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.limits = limits
        self.variables = variables
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.measured: dict[str, _Size] = {}
        self.open: set[str] = set()
        self.level = 0
        self.work = 0
        self.selections = 0

    def spend(self, work: int) -> None:
        self.work = _add(self.work, work)
        if self.work > self.limits.max_validation_work:
            raise _Refused(
                "the document is too complex to validate (it repeats fields or fragments "
                f"too often); the limit is {self.limits.max_validation_work} comparisons"
            )

    def merge(self, into: _Size, part: _Size) -> None:
        into.depth = max(into.depth, part.depth)
        into.aliases = _add(into.aliases, part.aliases)
        into.cost = _add(into.cost, part.cost)
        into.fields = _add(into.fields, part.fields)
        for name, (count, size) in part.names.items():
            had_count, had_size = into.names.get(name, (0, 0))
            # every field of one group is compared with every field of the other
            self.spend(_add(_mul(count, had_size), _mul(had_count, size)))
            into.names[name] = (_add(had_count, count), _add(had_size, size))

    def selection_set(
        self, node: SelectionSetNode | None, parent: GraphQLNamedType | None
    ) -> _Size:
        size = _Size()
        if node is None:
            return size
        self.level += 1
        if self.level > MAX_NESTING:
            raise _Refused(f"the document nests selections more than {MAX_NESTING} deep")
        for selection in node.selections:
            self.selections += 1
            self.check_values(selection)
            if isinstance(selection, FieldNode):
                self.merge(size, self.field(selection, parent))
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                part = self.selection_set(selection.selection_set, inner)
                self.spend(_FRAGMENT_PAIR * len(size.spreads) * len(part.spreads))
                size.spreads |= part.spreads
                self.merge(size, part)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in size.spreads:
                    self.spend(_FRAGMENT_PAIR * len(size.spreads))
                    size.spreads.add(name)
                self.merge(size, self.fragment(name))
        self.level -= 1
        return size

    def field(self, node: FieldNode, parent: GraphQLNamedType | None) -> _Size:
        name = node.name.value
        fields = (
            parent.fields if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType) else {}
        )
        definition = fields.get(name)
        inner = self.selection_set(
            node.selection_set, get_named_type(definition.type) if definition else None
        )
        key = node.alias.value if node.alias else name
        size = _Size(aliases=_add(inner.aliases, 1 if node.alias else 0))
        size.fields = _add(inner.fields, 1)
        size.names[key] = (1, size.fields)
        if name == "__schema" and size.aliases:
            # each alias would answer the whole schema again: its size, not the document's
            raise _Refused("aliases are not allowed in __schema: it is answered once a query")
        if name.startswith("__"):
            return size  # introspection: bounded by the schema and MaxIntrospectionDepthRule
        size.depth = inner.depth + 1 if node.selection_set else 0
        items = 1
        if definition is not None:
            if "first" in definition.args:
                items = self.first(node)
            elif is_list_type(get_nullable_type(definition.type)) and not (
                isinstance(parent, GraphQLObjectType) and "pageInfo" in parent.fields
            ):
                items = self.limits.default_list_size  # a connection's edges/nodes: `first`
        size.cost = _add(1, _mul(items, inner.cost))
        return size

    def first(self, node: FieldNode) -> int:
        """How many items a connection field asks for."""
        value: object = None
        for argument in node.arguments or ():
            if argument.name.value == "first":
                given = argument.value
                if isinstance(given, IntValueNode):
                    value = int(given.value)
                elif isinstance(given, VariableNode):
                    value = self.variables.get(given.name.value)
        if isinstance(value, int) and not isinstance(value, bool):
            return max(value, 0)
        return self.limits.default_list_size

    def check_values(self, node: Node) -> None:
        """Refuse values nested deeper than the limit (their coercion recurses): arguments
        of fields and directives, and variables' defaults."""
        values = [a.value for a in getattr(node, "arguments", None) or ()]
        for directive in getattr(node, "directives", None) or ():
            values += [a.value for a in directive.arguments or ()]
        for variable in getattr(node, "variable_definitions", None) or ():
            if variable.default_value is not None:
                values.append(variable.default_value)
        for value in values:
            self.check_value(value)

    def check_value(self, value: ValueNode) -> None:
        pending: list[tuple[ValueNode, int]] = [(value, 1)]
        while pending:
            node, depth = pending.pop()
            if depth > self.limits.max_input_depth:
                raise _Refused(
                    f"a value nests lists or objects more than {self.limits.max_input_depth} deep"
                )
            if isinstance(node, ListValueNode):
                pending.extend((v, depth + 1) for v in node.values)
            elif isinstance(node, ObjectValueNode):
                pending.extend((f.value, depth + 1) for f in node.fields)

    def fragment(self, name: str) -> _Size:
        if name in self.measured:
            return self.measured[name]
        definition = self.fragments.get(name)
        if definition is None:
            return _Size()  # KnownFragmentNamesRule says so, later
        if name in self.open:
            raise _Refused(f"fragment {name!r} spreads itself (directly or through others)")
        self.open.add(name)
        self.check_values(definition)
        condition = self.schema.get_type(definition.type_condition.name.value)
        size = self.selection_set(definition.selection_set, condition)
        self.open.discard(name)
        self.measured[name] = size
        return size


def measure(
    schema: GraphQLSchema, document: DocumentNode, limits: Limits
) -> Iterator[GraphQLError]:
    """The document's problems with `limits`; counted with every fragment measured once."""
    walk = _Measure(schema, document, limits, {})
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    aliases = 0
    try:
        for operation in operations:
            walk.check_values(operation)
            root = schema.get_root_type(operation.operation)
            size = walk.selection_set(operation.selection_set, root)
            name = operation.name.value if operation.name else "anonymous"
            if size.depth > limits.max_depth:
                yield _error(f"'{name}' exceeds maximum operation depth of {limits.max_depth}")
            yield from _cost_error(name, size.cost, limits)
            aliases = _add(aliases, size.aliases)
        for name in walk.fragments:
            walk.fragment(name)  # unused ones too: graphql-core validates them
        # each further operation makes graphql-core walk the document (and its fragments)
        walk.spend(_mul(max(len(operations) - 1, 0), walk.selections))
    except _Refused as refused:
        yield _error(refused.message)
        return
    if aliases > limits.max_aliases:
        yield _error(f"{aliases} aliases found. Allowed: {limits.max_aliases}")


def operation_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    document: DocumentNode,
    limits: Limits,
    variables: Mapping[str, Any],
) -> list[GraphQLError]:
    """The cost problem of `operation` with its variables' values (`first: $n`), their
    defaults included."""
    values: dict[str, Any] = {
        d.variable.name.value: int(d.default_value.value)
        for d in operation.variable_definitions or ()
        if isinstance(d.default_value, IntValueNode)
    }
    walk = _Measure(schema, document, limits, {**values, **variables})
    try:
        size = walk.selection_set(
            operation.selection_set, schema.get_root_type(operation.operation)
        )
    except _Refused as refused:
        return [_error(refused.message)]
    name = operation.name.value if operation.name else "anonymous"
    return list(_cost_error(name, size.cost, limits))


def _cost_error(name: str, cost: int, limits: Limits) -> Iterator[GraphQLError]:
    if cost > limits.max_cost:
        shown = f"over {_CAP:,}" if cost >= _CAP else f"{cost:,}"
        yield _error(
            f"'{name}' would select about {shown} fields, over the limit of "
            f"{limits.max_cost:,}; ask for fewer items (`first`) or fewer nested lists "
            f"(a list without `first` counts as {limits.default_list_size} items)"
        )


class LimitRule(ASTValidationRule):
    """A rule that checks the whole document at once: `caches.py` runs it before the
    others, without a traversal, and runs the others only if it finds nothing."""

    limits: Limits = Limits()

    @classmethod
    def errors(cls, schema: GraphQLSchema, document: DocumentNode) -> list[GraphQLError]:
        return list(measure(schema, document, cls.limits))

    def enter_document(self, node: DocumentNode, *_args: object) -> object:
        assert isinstance(self.context, ValidationContext)
        for error in self.errors(self.context.schema, node):
            self.report_error(error)
        return BREAK


class QueryLimits(SchemaExtension):
    """Applies `limits` to every operation: size while parsing, the rules at validation, and
    the cost again at execution when variables decide list sizes."""

    def __init__(self, limits: Limits, rules: tuple[type[ASTValidationRule], ...]) -> None:
        self.limits = limits
        self.rules = rules

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        # strawberry's parser reports these inside its own error handling (an error raised
        # from an extension's on_parse escapes it over WebSocket)
        options = cast(dict[str, Any], context.parse_options)
        options["max_tokens"] = self.limits.max_tokens
        options["max_source_length"] = self.limits.max_document_size
        context.validation_rules = (*context.validation_rules, *self.rules)
        yield

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and not context.result:
            errors = variables_cost(
                context.schema._schema,
                document,
                context.operation_name,
                self.limits,
                context.variables or {},
            )
            if errors:
                context.result = GraphQLExecutionResult(data=None, errors=errors)
        yield


def variables_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    limits: Limits,
    variables: Mapping[str, Any],
) -> list[GraphQLError]:
    """The cost problem of the operation to run, when it has variables (their values may
    decide list sizes): measured at execution, with the request's values."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        operation = operations[0] if len(operations) == 1 else None
    else:
        operation = next((o for o in operations if o.name and o.name.value == operation_name), None)
    if operation is None or not operation.variable_definitions:
        return []
    return operation_cost(schema, operation, document, limits, variables)


def limit_rules(limits: Limits) -> tuple[type[ASTValidationRule], ...]:
    """The rules for one schema build: ours first, then graphql-core's recommended
    introspection depth rule (strawberry runs only the specified ones)."""

    class QueryLimitRule(LimitRule):
        pass

    QueryLimitRule.limits = limits
    return (QueryLimitRule, MaxIntrospectionDepthRule)
