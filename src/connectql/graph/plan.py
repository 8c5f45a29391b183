"""Compiled execution of connector queries: a plan per operation, run without graphql-core's
per-field machinery.

`compile_operation` turns a validated query whose every selected field is a connector field
(tagged with its kind, resolvers/kinds.py), `__typename`, or a plain key of a record we
built (Relay connections, page info) into a tree of `FieldPlan`s. Fields are collected by
graphql-core's own `collect_fields` (fragments, type conditions, @skip/@include, merging),
so the plan holds what graphql-core would execute; a plan depends on the document, the
operation and the values of the variables that @skip/@include read (`plan_key`).

`PlanRun` executes a plan the way graphql-core's executor does (the spec's algorithm, the
same awaitable structure so dataloaders batch the same), but reads keys directly, completes
lists in one pass and builds the response dicts at once: no ResolveInfo, resolver call,
`is_type_of` or middleware per field. Errors go through the executor's `handle_field_error`
(so ShapingExecutor's BAD_RESPONSE shaping and null propagation are graphql-core's own);
the messages graphql-core writes itself are written here word for word.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from math import isfinite
from typing import TYPE_CHECKING, Any, cast

from graphql import (
    GRAPHQL_MAX_INT,
    GRAPHQL_MIN_INT,
    DirectiveNode,
    DocumentNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLString,
    GraphQLUnionType,
    ListValueNode,
    Node,
    ObjectValueNode,
    OperationType,
    Undefined,
    ValueNode,
    VariableNode,
)
from graphql.execution.collect_fields import (
    FieldDetailsList,
    collect_fields,
    collect_subfields,
)
from graphql.execution.executor import default_field_resolver
from graphql.execution.values import get_argument_values
from graphql.language import Visitor, visit
from graphql.pyutils import Path, gather_with_cancel, inspect, is_iterable

from connectql.resolvers.errors import bad_value
from connectql.resolvers.fields import LinkedArgs
from connectql.resolvers.kinds import (
    Linked,
    Loaded,
    Namespace,
    Read,
    Upstream,
    kind_of,
    union_kind,
)
from connectql.resolvers.loaders import Loaders, request_loaders

if TYPE_CHECKING:
    from graphql import Executor


class NotCompiled(Exception):
    """The operation selects something the planner does not compile: graphql-core runs it."""


# --- plans -------------------------------------------------------------------------------


@dataclass(eq=False)
class FieldPlan:
    """One response key of an object: its field, how to read it, how to complete it."""

    key: str
    name: str
    parent: GraphQLObjectType
    field: GraphQLField | None
    """None for `__typename`."""
    details: FieldDetailsList
    kind: Read | Namespace | Linked | Loaded | Upstream | None
    """None: the default resolver (a key of a dict we built, or `__typename`)."""
    complete: Completer
    args: dict[str, Any] | None = None
    """The arguments, when no variable decides them (else computed at run time)."""
    link: LinkedArgs | None = None
    direct: str | None = None
    """The key of a plain read of a String, ID, Boolean or Int: a value of exactly that
    type (an Int in range), or null where null is allowed, is the response's value as it
    is; any other goes the whole way."""
    direct_type: type | None = None
    nullable: bool = True
    linked_fields: list[FieldPlan] | None = None
    """The object's fields of a link with no arguments (`link`), run on the record a page's
    prefetch loaded without resolving the field."""

    @property
    def nodes(self) -> list[Any]:
        return [d.node for d in self.details]


Completer = Callable[["PlanRun", FieldPlan, Any, Path], Any]
"""Completes a resolved value of a field's type (or of a list's item type)."""


@dataclass
class OperationPlan:
    root: GraphQLObjectType
    fields: list[FieldPlan]


@dataclass
class DocumentPlans:
    """The plans of one document, by operation name and @skip/@include variable values."""

    document: DocumentNode
    switches: tuple[str, ...]
    """The variables that @skip/@include read."""
    plans: dict[tuple[Any, ...], OperationPlan | None] = field(default_factory=dict)


def switch_variables(document: DocumentNode) -> tuple[str, ...]:
    names: set[str] = set()

    class Switches(Visitor):
        def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
            if node.name.value in ("skip", "include"):
                for arg in node.arguments or ():
                    if isinstance(arg.value, VariableNode):
                        names.add(arg.value.name.value)

    visit(document, Switches())
    return tuple(sorted(names))


def plan_key(executor: Executor[Any], switches: tuple[str, ...]) -> tuple[Any, ...]:
    name = executor.operation.name.value if executor.operation.name else None
    coerced = executor.variable_values.coerced
    return (id(executor.operation), name, *(repr(coerced.get(s, Undefined)) for s in switches))


def compile_operation(executor: Executor[Any]) -> OperationPlan | None:
    """The plan of the executor's operation, or None when graphql-core must run it."""
    if executor.operation.operation != OperationType.QUERY:
        return None
    schema = executor.schema
    root = schema.query_type
    if root is None or any(d.variable_signatures for d in executor.fragments.values()):
        return None
    try:
        collected = collect_fields(
            schema,
            executor.fragments,
            executor.variable_values,
            root,
            executor.operation,
            executor.hide_suggestions,
        )
        if collected.new_defer_usages:
            return None
        return OperationPlan(root, _fields(executor, root, collected.grouped_field_set))
    except (NotCompiled, RecursionError):
        return None


def _fields(
    executor: Executor[Any], parent: GraphQLObjectType, grouped: Mapping[str, FieldDetailsList]
) -> list[FieldPlan]:
    plans = []
    for key, details in grouped.items():
        plan = _field(executor, parent, key, details)
        if plan is not None:
            plans.append(plan)
    return plans


def _field(
    executor: Executor[Any], parent: GraphQLObjectType, key: str, details: FieldDetailsList
) -> FieldPlan | None:
    node = details[0].node
    name = node.name.value
    if any(d.fragment_variable_values is not None or d.defer_usage for d in details):
        raise NotCompiled
    if name == "__typename":
        return FieldPlan(key, name, parent, None, details, None, _typename)
    gfield = executor.schema.get_field(parent, name)
    if gfield is None:
        return None  # graphql-core leaves the key out too
    if gfield.resolve is None:
        kind = None
    else:
        kind = kind_of(gfield)
        if kind is None:
            raise NotCompiled
    if gfield.subscribe is not None:
        raise NotCompiled
    plan = FieldPlan(key, name, parent, gfield, details, kind, _never)
    if (gfield.args or node.arguments) and not _uses_variables(node):
        # an error is raised again for each occurrence, as graphql-core does
        with suppress(GraphQLError):
            plan.args = get_argument_values(gfield, node, executor.variable_values)
    if isinstance(kind, Linked):
        plan.link = LinkedArgs(kind.connector, kind.link)
    plan.complete = _completer(executor, gfield.type, details)
    plan.nullable = not isinstance(gfield.type, GraphQLNonNull)
    target = gfield.type if plan.nullable else cast(GraphQLNonNull[Any], gfield.type).of_type
    if (
        plan.link is not None
        and not (gfield.args or node.arguments)
        and isinstance(target, GraphQLObjectType)
    ):
        plan.linked_fields = _subfields(executor, target, details)
    if (isinstance(kind, Read) and kind.key is not None and kind.required is None) or (
        kind is None
    ):
        gtype: Any = gfield.type
        leaf = gtype if plan.nullable else gtype.of_type
        plan.direct_type = _DIRECT.get(leaf)
        if plan.direct_type is not None:
            plan.direct = kind.key if isinstance(kind, Read) else name
    return plan


_DIRECT: dict[Any, type] = {
    GraphQLString: str,
    GraphQLID: str,
    GraphQLBoolean: bool,
    GraphQLInt: int,
}
_INT = range(GRAPHQL_MIN_INT, GRAPHQL_MAX_INT + 1)
_PLAIN = frozenset({dict, list, str, int, float, bool, type(None)})
"""Types of values that are never awaitable: checked before the executor's predicate."""


def _uses_variables(node: Node) -> bool:
    def values(value: ValueNode) -> bool:
        if isinstance(value, VariableNode):
            return True
        if isinstance(value, ListValueNode):
            return any(values(v) for v in value.values)
        if isinstance(value, ObjectValueNode):
            return any(values(f.value) for f in value.fields)
        return False

    return any(values(arg.value) for arg in getattr(node, "arguments", None) or ())


def _completer(
    executor: Executor[Any], gtype: GraphQLOutputType, details: FieldDetailsList
) -> Completer:
    if isinstance(gtype, GraphQLNonNull):
        return _non_null(_completer(executor, gtype.of_type, details))
    if isinstance(gtype, GraphQLList):
        item_type = gtype.of_type
        inner = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        if isinstance(inner, GraphQLObjectType):
            fields = _subfields(executor, inner, details)
            complete = _object(fields)
            if inner is not item_type:
                complete = _non_null(complete)
            built = _built_object(fields)
            if built is None:
                return _list(complete, item_type)
            return _list(complete, item_type, *built)
        return _list(_completer(executor, item_type, details), item_type)
    if isinstance(gtype, (GraphQLScalarType, GraphQLEnumType)):
        return _leaf(gtype)
    if isinstance(gtype, GraphQLObjectType):
        return _object(_subfields(executor, gtype, details))
    if isinstance(gtype, GraphQLUnionType):
        kind = union_kind(gtype)
        if kind is None:
            raise NotCompiled
        members = {
            member.name: _subfields(executor, member, details)
            for member in executor.schema.get_possible_types(gtype)
        }
        return _union(gtype, kind.discriminator.get, kind.mapping, members, executor)
    raise NotCompiled  # interfaces: none in connector types


def _subfields(
    executor: Executor[Any], gtype: GraphQLObjectType, details: FieldDetailsList
) -> list[FieldPlan]:
    if gtype.is_type_of is not None:
        raise NotCompiled
    collected = collect_subfields(
        executor.schema,
        executor.fragments,
        executor.variable_values,
        executor.operation,
        gtype,
        details,
        executor.hide_suggestions,
    )
    if collected.new_defer_usages:
        raise NotCompiled
    return _fields(executor, gtype, collected.grouped_field_set)


# --- completion (graphql-core's complete_value, specialised per type) --------------------


def _never(run: PlanRun, plan: FieldPlan, value: Any, path: Path) -> Any:
    raise AssertionError("completer not set")  # pragma: no cover


def _typename(run: PlanRun, plan: FieldPlan, value: Any, path: Path) -> Any:
    return plan.parent.name


def _non_null(inner: Completer) -> Completer:
    # an awaitable completion is an object's or a list's, never null (as in graphql-core)
    def complete(run: PlanRun, plan: FieldPlan, value: Any, path: Path) -> Any:
        completed = inner(run, plan, value, path)
        if completed is None:
            raise TypeError(f"Cannot return null for non-nullable field {plan.parent}.{plan.name}.")
        return completed

    return complete


def _leaf(gtype: GraphQLScalarType | GraphQLEnumType) -> Completer:
    coerce = gtype.coerce_output_value
    # graphql-core's coercion of these is the identity for values of exactly this type
    exact = _IDENTITY.get(gtype)

    def complete(run: PlanRun, plan: FieldPlan, value: Any, path: Path) -> Any:
        if isinstance(value, Exception):
            raise value
        if value is None or value is Undefined:
            return None
        if type(value) is exact and (exact is not float or isfinite(value)):  # type: ignore[arg-type]
            return value
        coerced = coerce(value)
        if coerced is Undefined or coerced is None:
            raise TypeError(
                f"Expected `{inspect(gtype)}.coerce_output_value({inspect(value)})` to return"
                f" non-nullable value, returned: {inspect(coerced)}"
            )
        return coerced

    return complete


_IDENTITY: dict[Any, type] = {
    GraphQLString: str,
    GraphQLID: str,
    GraphQLBoolean: bool,
    GraphQLFloat: float,
}
"""Float's coercion returns a finite float as it is; an infinite one is an error, left to it."""


def _list(
    inner: Completer,
    item_type: GraphQLOutputType,
    built: Built | None = None,
    links: bool = False,
) -> Completer:
    """Items complete one by one as graphql-core does; a record that `built` (the items'
    object builder) answers is taken as it is, with no path or completer per item."""

    def complete(run: PlanRun, plan: FieldPlan, value: Any, path: Path) -> Any:
        if isinstance(value, Exception):
            raise value
        if value is None or value is Undefined:
            return None
        if not is_iterable(value):
            raise GraphQLError(
                f"Expected Iterable, but did not find one for field '{plan.parent}.{plan.name}'."
            )
        is_awaitable = run.is_awaitable
        results: list[Any] = []
        pending: list[int] = []
        # bound once per list; a builder with no links never reads it
        prefetched = run.loaders.prefetched if built is not None and links else None
        try:
            for index, item in enumerate(value):
                if built is not None and type(item) is dict:
                    done = built(prefetched, item)
                    if done is not None:
                        results.append(done)
                        continue
                item_path = path.add_key(index, None)
                if is_awaitable(item):
                    results.append(run.awaited_item(inner, item_type, plan, item, item_path))
                    pending.append(index)
                    continue
                try:
                    done = inner(run, plan, item, item_path)
                except Exception as error:
                    run.field_error(error, item_type, plan, item_path)
                    done = None
                if is_awaitable(done):
                    results.append(run.completed_item(item_type, plan, done, item_path))
                    pending.append(index)
                else:
                    results.append(done)
        except Exception:
            run.settle([results[i] for i in pending])
            raise
        if not pending:
            return results
        return run.gathered_list(results, pending)

    return complete


Built = Callable[[Callable[[Any, Any], Any] | None, dict[str, Any]], "dict[str, Any] | None"]
"""An object's response dict built from a record in one go, or None where any of its fields
needs the general path (a value to coerce, an error, something to await). Its first argument
is the request's `Loaders.prefetched` (None for a builder that reads no link)."""


def _built_object(fields: list[FieldPlan]) -> tuple[Built, bool] | None:
    """Straight-line code that reads `fields` from a record: direct reads whose values are
    of the field's type (or null where allowed), `__typename`, and links a page's prefetch
    loaded (and whether it reads any); None when any field is of another kind."""
    lines = ["def built(prefetched, source):"]
    links = False
    names: dict[str, Any] = {"_INT": _INT}
    entries = []
    for i, plan in enumerate(fields):
        value = f"v{i}"
        if plan.field is None:  # __typename
            entries.append(f"{plan.key!r}: {plan.parent.name!r}")
            continue
        if plan.direct is not None and plan.direct_type is not None:
            names[f"t{i}"] = plan.direct_type
            check = f"type({value}) is t{i}"
            if plan.direct_type is int:
                check += f" and {value} in _INT"
            if plan.nullable:
                check = f"{value} is None or ({check})"
            lines.append(f"    {value} = source.get({plan.direct!r})")
            lines.append(f"    if not ({check}): return None")
        elif plan.link is not None and plan.linked_fields is not None:
            inner = _built_object(plan.linked_fields)
            if inner is None:
                return None
            links = True
            names[f"build{i}"], names[f"link{i}"] = inner[0], plan.link.key
            lines.append(f"    {value} = prefetched(link{i}, source)")
            lines.append(f"    if type({value}) is dict:")
            lines.append(f"        {value} = build{i}(prefetched, {value})")
            lines.append(f"        if {value} is None: return None")
            if plan.nullable:
                lines.append(f"    elif {value} is not None: return None")
            else:
                lines.append("    else: return None")
        else:
            return None
        entries.append(f"{plan.key!r}: {value}")
    lines.append(f"    return {{{', '.join(entries)}}}")
    exec("\n".join(lines), names)  # noqa: S102 - source made above from schema names only
    built: Built = names["built"]
    return built, links


def _object(fields: list[FieldPlan]) -> Completer:
    def complete(run: PlanRun, plan: FieldPlan, value: Any, path: Path) -> Any:
        if isinstance(value, Exception):
            raise value
        if value is None or value is Undefined:
            return None
        return run.execute_fields(fields, value, path)

    return complete


def _union(
    union: GraphQLUnionType,
    discriminator: Callable[[Any], Any],
    mapping: Mapping[str, str],
    members: Mapping[str, list[FieldPlan]],
    executor: Executor[Any],
) -> Completer:
    schema = executor.schema

    def complete(run: PlanRun, plan: FieldPlan, value: Any, path: Path) -> Any:
        if isinstance(value, Exception):
            raise value
        if value is None or value is Undefined:
            return None
        name = mapping.get(str(discriminator(value)))
        where = f"'{plan.parent}.{plan.name}'"
        if name is None:
            raise GraphQLError(
                f"Abstract type '{union}' must resolve to an Object type at runtime for"
                f" field {where}. Either the '{union}' type should provide a 'resolve_type'"
                " function or each possible type should provide an 'is_type_of' function.",
                plan.nodes,
            )
        fields = members.get(name)
        if fields is None:
            runtime = schema.get_type(name)
            if runtime is None:
                message = (
                    f"Abstract type '{union}' was resolved to a type '{name}' that does not"
                    " exist inside the schema."
                )
            elif not isinstance(runtime, GraphQLObjectType):
                message = f"Abstract type '{union}' was resolved to a non-object type '{name}'."
            else:
                message = f"Runtime Object type '{runtime}' is not a possible type for '{union}'."
            raise GraphQLError(message, plan.nodes)
        return run.execute_fields(fields, value, path)

    return complete


# --- running -----------------------------------------------------------------------------


class PlanRun:
    """One execution of a plan for one executor (its variables, context, errors)."""

    def __init__(self, executor: Executor[Any]) -> None:
        self.executor = executor
        awaitable = executor.is_awaitable

        def is_awaitable(value: Any) -> bool:
            return type(value) not in _PLAIN and awaitable(value)

        self.is_awaitable = is_awaitable
        self._loaders: Loaders | None = None
        self._args: dict[int, dict[str, Any]] = {}

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            self._loaders = request_loaders(self.executor.context_value)
        return self._loaders

    def field_error(
        self, error: Exception, return_type: GraphQLOutputType, plan: FieldPlan, path: Path
    ) -> None:
        """graphql-core's handling: located, shaped, collected, or raised to the parent
        when `return_type` is non-null."""
        self.executor.handle_field_error(error, return_type, plan.details, path)

    def settle(self, awaitables: list[Any]) -> None:
        if awaitables:
            self.executor.settle_in_background(awaitables)

    def execute_fields(
        self, fields: list[FieldPlan], source: Any, path: Path | None
    ) -> dict[str, Any] | Awaitable[dict[str, Any]]:
        results: dict[str, Any] = {}
        pending: list[str] = []
        is_awaitable = self.is_awaitable
        record = type(source) is dict
        try:
            for plan in fields:
                key = plan.direct
                if key is not None and record:
                    value = source.get(key)
                    kind = type(value)
                    if (kind is plan.direct_type and (kind is not int or value in _INT)) or (
                        value is None and plan.nullable
                    ):
                        results[plan.key] = value
                        continue
                link = plan.link
                if link is not None and plan.linked_fields is not None and record:
                    found = self.loaders.prefetched(link.key, source)
                    if type(found) is dict:
                        value = self._linked_object(plan, found, path)
                        results[plan.key] = value
                        if is_awaitable(value):
                            pending.append(plan.key)
                        continue
                    if found is None and plan.nullable:
                        results[plan.key] = None
                        continue
                value = self.execute_field(plan, source, path)
                results[plan.key] = value
                if is_awaitable(value):
                    pending.append(plan.key)
        except Exception:
            self.settle([results[k] for k in pending])
            raise
        if not pending:
            return results

        async def gathered() -> dict[str, Any]:
            if len(pending) == 1:
                results[pending[0]] = await results[pending[0]]
            else:
                done = await gather_with_cancel(*(results[k] for k in pending))
                results.update(zip(pending, done, strict=True))
            return results

        return gathered()

    def execute_field(self, plan: FieldPlan, source: Any, parent: Path | None) -> Any:
        path = Path(parent, plan.key, plan.parent.name)
        gfield = plan.field
        if gfield is None:
            return plan.parent.name  # __typename
        try:
            value = self._resolve(plan, gfield, source, path)
            if self.is_awaitable(value):
                return self._awaited_field(plan, gfield.type, value, path)
            completed = plan.complete(self, plan, value, path)
            if self.is_awaitable(completed):
                return self._completed_field(plan, gfield.type, completed, path)
            return completed
        except Exception as error:
            self.field_error(error, gfield.type, plan, path)
            return None

    def _linked_object(self, plan: FieldPlan, record: dict[str, Any], parent: Path | None) -> Any:
        """`execute_field` of a link whose record the page's prefetch loaded."""
        assert plan.field is not None
        assert plan.linked_fields is not None
        path = Path(parent, plan.key, plan.parent.name)
        try:
            completed = self.execute_fields(plan.linked_fields, record, path)
            if self.is_awaitable(completed):
                return self._completed_field(plan, plan.field.type, completed, path)
            return completed
        except Exception as error:
            self.field_error(error, plan.field.type, plan, path)
            return None

    def _resolve(self, plan: FieldPlan, gfield: GraphQLField, source: Any, path: Path) -> Any:
        kind = plan.kind
        if isinstance(kind, Read):
            if kind.key is not None:
                value = source.get(kind.key) if isinstance(source, dict) else None
            else:
                assert kind.path is not None
                value = kind.path.get(source)
            if value is None and kind.required is not None:
                connector, declared = kind.required
                where = ".".join(str(key) for key in path.as_list())
                field_name = f"{plan.parent.name}.{plan.name}"
                raise bad_value(connector, field_name, declared, where, "it is missing or null")
            return value
        if kind is None:
            value = (
                source.get(plan.name)
                if isinstance(source, Mapping)
                else getattr(source, plan.name, None)
            )
            if callable(value):
                info = self._info(plan, gfield, path)
                return default_field_resolver(source, info, **self._arguments(plan, gfield))
            return value
        if isinstance(kind, Namespace):
            return kind.connector
        args = self._arguments(plan, gfield)
        if isinstance(kind, Loaded):
            return self.loaders.get(kind.connector, kind.operation).now_or_later(args)
        if isinstance(kind, Linked):
            assert plan.link is not None
            return plan.link.value(self.loaders, source, args)
        return kind.resolve(source, self._info(plan, gfield, path), **args)

    def _arguments(self, plan: FieldPlan, gfield: GraphQLField) -> dict[str, Any]:
        if plan.args is not None:
            return plan.args
        if not (gfield.args or plan.details[0].node.arguments):
            return {}
        found = self._args.get(id(plan))
        if found is None:
            executor = self.executor
            found = get_argument_values(
                gfield,
                plan.details[0].node,
                executor.variable_values,
                None,
                executor.hide_suggestions,
            )
            self._args[id(plan)] = found
        return found

    def _info(self, plan: FieldPlan, gfield: GraphQLField, path: Path) -> Any:
        return self.executor.build_resolve_info(gfield, plan.nodes, plan.parent, path)

    async def _awaited_field(
        self, plan: FieldPlan, return_type: GraphQLOutputType, value: Any, path: Path
    ) -> Any:
        try:
            resolved = await value
            completed = plan.complete(self, plan, resolved, path)
            if self.is_awaitable(completed):
                completed = await completed
        except Exception as error:
            self.field_error(error, return_type, plan, path)
            return None
        return completed

    async def _completed_field(
        self, plan: FieldPlan, return_type: GraphQLOutputType, completed: Any, path: Path
    ) -> Any:
        try:
            return await completed
        except Exception as error:
            self.field_error(error, return_type, plan, path)
            return None

    async def awaited_item(
        self,
        inner: Completer,
        item_type: GraphQLOutputType,
        plan: FieldPlan,
        item: Any,
        path: Path,
    ) -> Any:
        try:
            resolved = await item
            completed = inner(self, plan, resolved, path)
            if self.is_awaitable(completed):
                completed = await completed
        except Exception as error:
            self.field_error(error, item_type, plan, path)
            return None
        return completed

    async def completed_item(
        self, item_type: GraphQLOutputType, plan: FieldPlan, completed: Any, path: Path
    ) -> Any:
        try:
            return await completed
        except Exception as error:
            self.field_error(error, item_type, plan, path)
            return None

    @staticmethod
    async def gathered_list(results: list[Any], pending: list[int]) -> list[Any]:
        if len(pending) == 1:
            results[pending[0]] = await results[pending[0]]
        else:
            done = await gather_with_cancel(*(results[i] for i in pending))
            for index, value in zip(pending, done, strict=True):
                results[index] = value
        return results
