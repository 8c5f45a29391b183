"""Semantic checks of a structurally valid spec: what pydantic alone cannot see.

Each check yields (location, message); the loader turns locations into file:line:column.
When parts of a file are structurally broken, the loader checks the spec without them and
names them in `broken`: a reference to a broken part is not reported as unknown (its own
error is), only real problems of the well-formed parts are.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from connectql.spec.entities import check_entities
from connectql.spec.forwarding import check_forwarding
from connectql.spec.models import (
    ConnectorSpec,
    EnumType,
    InputType,
    ObjectType,
    Operation,
    UnionType,
)
from connectql.spec.naming import enum_value_name
from connectql.spec.shape_checks import check_shape
from connectql.spec.templates import (
    Template,
    lone_placeholder,
    parse_template,
    placeholder_arg,
    template_strings,
)
from connectql.spec.typeref import (
    BINARY,
    BUILTIN_SCALARS,
    FILE_INPUT,
    FILE_TYPES,
    parse_type_ref,
)

Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]


def check_spec(spec: ConnectorSpec, broken: Collection[Loc] = ()) -> list[Problem]:
    """Every semantic problem of `spec`; `broken` holds the locations of the parts of the file
    left out of `spec` (an entry such as ("types", "Item"), or a section such as ("config",))."""
    left_out = _Broken(frozenset(broken))
    return [
        *check_forwarding(spec),
        *_check_templates(spec, left_out),
        *_check_types(spec, left_out),
        *_check_operations(spec, left_out),
        *_check_tests(spec, left_out),
        *check_entities(spec, left_out.has),
        *check_shape(spec),
    ]


@dataclass(frozen=True)
class _Broken:
    """The parts of the file left out of the checked spec: declared, but not checkable."""

    locs: frozenset[Loc]

    def has(self, section: str, name: str) -> bool:
        """Whether `section.name` is declared in the file but left out as broken."""
        return (section,) in self.locs or (section, name) in self.locs

    def declared(self, section: str, checked: Iterable[str]) -> set[str]:
        """The names of `section` in the file: those checked and the broken ones."""
        return {*checked, *(str(loc[1]) for loc in self.locs if loc[:1] == (section,) and loc[1:])}


def _check_tests(spec: ConnectorSpec, broken: _Broken) -> Iterator[Problem]:
    for i, test in enumerate(spec.tests):
        op = spec.operations.get(test.operation)
        if op is None:
            if not broken.has("operations", test.operation):
                declared = _names(broken.declared("operations", spec.operations))
                yield (
                    ("tests", i, "operation"),
                    f"test {test.name!r} names operation {test.operation!r}, which is not "
                    f"declared ({declared})",
                )
            continue
        for name in test.args:
            if name not in op.args:
                yield (
                    ("tests", i, "args", name),
                    f"operation {test.operation!r} has no argument {name!r}",
                )
        if test.keys is not None and op.batch is None:
            yield (("tests", i, "keys"), f"operation {test.operation!r} has no batch section")


# --- templates ---------------------------------------------------------------------------


def _check_templates(spec: ConnectorSpec, broken: _Broken) -> Iterator[Problem]:
    """`{config.x}` must name a config key everywhere; `env` is for connectql.yaml only."""
    source = spec.source.model_dump(by_alias=True, exclude_defaults=True)
    yield from _placeholders(spec, broken, ("source",), source, allowed={"config"})
    for name, op in spec.operations.items():
        loc: Loc = ("operations", name, "request")
        request = op.request.model_dump(exclude_defaults=True)
        yield from _placeholders(spec, broken, loc, request, allowed={"config", "args"}, op=op)
        if op.batch is not None and op.batch.request is not None:
            loc = ("operations", name, "batch", "request")
            request = op.batch.request.model_dump(exclude_defaults=True)
            allowed = {"config", "args", "keys"}
            yield from _placeholders(spec, broken, loc, request, allowed=allowed, op=op)
        if op.batch is not None and op.batch.each is not None:
            loc = ("operations", name, "batch", "each")
            each = {"each": op.batch.each}
            allowed = {"config", "args", "key"}
            yield from _placeholders(spec, broken, loc[:-1], each, allowed=allowed, op=op)


def _placeholders(
    spec: ConnectorSpec,
    broken: _Broken,
    base: Loc,
    value: Any,
    *,
    allowed: set[str],
    op: Operation | None = None,
) -> Iterator[Problem]:
    for loc, template in _templates(base, value):
        if isinstance(template, str):
            yield loc, template
            continue
        for ph in template.placeholders:
            head = ph.path.steps[0] if ph.path.steps else None
            if ph.namespace == "request":
                continue  # caller headers: checked by spec/forwarding.py
            if ph.namespace not in allowed:
                hint = (
                    "; put {env.…} in connectql.yaml and read it here as {config.…}"
                    if ph.namespace == "env"
                    else ""
                )
                yield loc, f"{ph.text} is not available here (allowed: {_names(allowed)}){hint}"
            elif (
                ph.namespace == "config"
                and head not in spec.config
                and not broken.has("config", str(head))
            ):
                declared = _names(broken.declared("config", spec.config))
                yield loc, f"{ph.text} names no declared config key ({declared})"
            elif ph.namespace == "args" and op is not None and head not in op.args:
                yield loc, f"{ph.text} names no argument of this operation ({_names(op.args)})"


def _templates(base: Loc, value: Any) -> Iterator[tuple[Loc, Template | str]]:
    """Every string inside `value` as a template, or the problem that keeps it from being one
    (said without the text, which may hold a credential)."""
    for rel, text in template_strings(value):
        try:
            yield (*base, *rel), parse_template(text)
        except ValueError:
            yield (*base, *rel), "a brace that is not a placeholder (write {{ or }} for a brace)"


def _names(values: Any) -> str:
    names = sorted(str(v) for v in values)
    return ", ".join(names) if names else "none declared"


# --- types -------------------------------------------------------------------------------


def _kind(spec: ConnectorSpec, name: str) -> str | None:
    if name in BUILTIN_SCALARS:
        return "scalar"
    if name in FILE_TYPES:
        return "input" if name == FILE_INPUT else "object"
    found = spec.types.get(name)
    return None if found is None else found.kind


def _type_ref(
    spec: ConnectorSpec, broken: _Broken, loc: Loc, text: str, role: str
) -> Iterator[Problem]:
    """A reference must name a declared type usable as `role` (input or output)."""
    base = parse_type_ref(text).base
    kind = _kind(spec, base)
    if kind is None and not broken.has("types", base):
        declared = ", ".join(sorted(broken.declared("types", spec.types))) or "none"
        yield (
            loc,
            f"unknown type {base!r} (declared types: {declared}; "
            f"scalars: {_names(BUILTIN_SCALARS)}; built-in: {_names(FILE_TYPES)})",
        )
    elif role == "input" and kind in ("object", "union"):
        yield (
            loc,
            f"{base!r} is an {kind} type; arguments and input fields need an input type, "
            "enum or scalar",
        )
    elif role == "output" and kind == "input":
        yield (
            loc,
            f"{base!r} is an input type; results and object fields need an object, union, "
            "enum or scalar",
        )


def _check_types(spec: ConnectorSpec, broken: _Broken) -> Iterator[Problem]:
    reserved = {"Query", "Mutation"} | {
        f"{parse_type_ref(op.response.type).base}{suffix}"
        for op in spec.operations.values()
        if op.is_paginated
        for suffix in ("Connection", "Edge")
    }
    for name, type_spec in spec.types.items():
        loc: Loc = ("types", name)
        if name in reserved or name == "PageInfo":
            yield loc, f"type name {name!r} is taken by a generated type; rename it"
        if name in FILE_TYPES:
            yield loc, f"type name {name!r} is taken by a built-in type; rename it"
        if isinstance(type_spec, (ObjectType, InputType)):
            role = "output" if isinstance(type_spec, ObjectType) else "input"
            for fname, field in type_spec.fields.items():
                floc = (*loc, "fields", fname)
                yield from _type_ref(spec, broken, (*floc, "type"), field.type, role)
                yield from _check_file_field(floc, field.type, field.resolve is not None)
                for aname, arg in field.args.items():
                    aloc = (*floc, "args", aname)
                    yield from _type_ref(spec, broken, (*aloc, "type"), arg.type, "input")
                    if arg.default is not None:
                        enums = partial(_enum_values, spec)
                        problem = default_problem(arg.type, arg.default, enums)
                        if problem is not None:
                            yield (*aloc, "default"), problem
                if field.resolve is not None:
                    if isinstance(type_spec, InputType):
                        yield (*floc, "resolve"), "input fields cannot resolve through an operation"
                    else:
                        resolve = field.resolve
                        yield from _check_resolve(
                            spec,
                            broken,
                            (*floc, "resolve"),
                            resolve.operation,
                            resolve.args,
                            field.args,
                        )
        elif isinstance(type_spec, EnumType):
            yield from _check_enum(loc, type_spec)
        elif isinstance(type_spec, UnionType):
            for i, member in enumerate(type_spec.types):
                if _kind(spec, member) != "object" and not broken.has("types", member):
                    yield (
                        (*loc, "types", i),
                        f"union member {member!r} must be a declared object type",
                    )
            for raw, member in type_spec.discriminator.mapping.items():
                if member not in type_spec.types:
                    yield (
                        (*loc, "discriminator", "mapping", raw),
                        f"{member!r} is not one of this union's types",
                    )


def _check_enum(loc: Loc, spec: EnumType) -> Iterator[Problem]:
    if isinstance(spec.values, dict):
        return
    seen: dict[str, str] = {}
    for i, raw in enumerate(spec.values):
        name = enum_value_name(raw)
        if name in seen:
            yield (
                (*loc, "values", i),
                f"{raw!r} and {seen[name]!r} both become the GraphQL value {name}; "
                "map them explicitly",
            )
        seen[name] = raw


_INT32 = range(-(2**31), 2**31)
_INT64 = range(-(2**63), 2**63)
_SCALAR_DEFAULTS: dict[str, Callable[[Any], bool]] = {
    "Int": lambda v: isinstance(v, int) and not isinstance(v, bool) and v in _INT32,
    "Long": lambda v: isinstance(v, int) and not isinstance(v, bool) and v in _INT64,
    "Float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "Boolean": lambda v: isinstance(v, bool),
    "String": lambda v: isinstance(v, (str, int, float, bool)),
    "ID": lambda v: isinstance(v, (str, int)) and not isinstance(v, bool),
}
"""What graphql-core can print as a default of each scalar (schema SDL, introspection)."""


def default_problem(
    type_text: str, default: Any, enum_values: Callable[[str], Collection[Any] | None]
) -> str | None:
    """Why `default` cannot be the default of an argument of type `type_text` (printing the
    schema or introspecting it would fail), or None. `enum_values` gives an enum type's
    upstream values, None for a type that is not an enum."""
    ref = parse_type_ref(type_text)
    if ref.of is not None:
        items = default if isinstance(default, list) else [default]
        problems = (default_problem(str(ref.of), item, enum_values) for item in items)
        return next((p for p in problems if p is not None), None)
    if default is None:
        return None
    values = enum_values(ref.base)
    if values is not None:
        if default in values:
            return None
        shown = ", ".join(repr(v) for v in list(values)[:10])
        more = ", …" if len(values) > 10 else ""
        hint = next(
            (f"; write {v!r} for {default}" for v in values if default == enum_value_name(v)), ""
        )
        return f"default {default!r} is not a value of enum {ref.base} ({shown}{more}){hint}"
    fits = _SCALAR_DEFAULTS.get(ref.base)
    if fits is not None and not fits(default):
        return f"default {default!r} cannot be a {ref.base}"
    return None


def _enum_values(spec: ConnectorSpec, name: str) -> Collection[Any] | None:
    found = spec.types.get(name)
    if not isinstance(found, EnumType):
        return None
    return list(found.values.values()) if isinstance(found.values, dict) else found.values


def _check_resolve(
    spec: ConnectorSpec,
    broken: _Broken,
    loc: Loc,
    target: str,
    args: Mapping[str, Any],
    field_args: Collection[str] = (),
) -> Iterator[Problem]:
    """`field_args`: the linked field's own arguments, which templates read as `{args.…}`
    and which pass on to the operation's arguments of the same name."""
    op = spec.operations.get(target)
    if op is None:
        if not broken.has("operations", target):
            declared = _names(broken.declared("operations", spec.operations))
            yield (
                (*loc, "operation"),
                f"resolve names operation {target!r}, which is not declared ({declared})",
            )
        return
    for name in args:
        if name not in op.args:
            yield (
                (*loc, "args", name),
                f"operation {target!r} has no argument {name!r} ({_names(op.args)})",
            )
    for name, arg in op.args.items():
        required = parse_type_ref(arg.type).non_null and arg.default is None
        if required and name not in args and name not in field_args:
            yield (*loc, "args"), f"operation {target!r} needs argument {name!r}"
    for where, template in _templates((*loc, "args"), dict(args)):
        if isinstance(template, str):
            yield where, template
            continue
        for ph in template.placeholders:
            if ph.namespace == "args" and field_args:
                head = ph.path.steps[0] if ph.path.steps else None
                if head not in field_args:
                    yield (
                        where,
                        f"{ph.text} names no argument of this field ({_names(field_args)})",
                    )
            elif ph.namespace not in ("parent", "config"):
                allowed = "args, config, parent" if field_args else "config, parent"
                yield where, f"{ph.text} is not available here (allowed: {allowed})"


# --- operations ---------------------------------------------------------------------------


def _check_operations(spec: ConnectorSpec, broken: _Broken) -> Iterator[Problem]:
    for name, op in spec.operations.items():
        loc: Loc = ("operations", name)
        for arg_name, arg in op.args.items():
            yield from _type_ref(spec, broken, (*loc, "args", arg_name, "type"), arg.type, "input")
            if arg.default is not None:
                problem = default_problem(arg.type, arg.default, lambda n: _enum_values(spec, n))
                if problem is not None:
                    yield (*loc, "args", arg_name, "default"), problem
        yield from _type_ref(spec, broken, (*loc, "response", "type"), op.response.type, "output")
        if op.kind == "mutation" and op.is_paginated:
            yield (*loc, "pagination"), "a mutation cannot be paginated"
        schemes = spec.source.auth_schemes
        if op.auth is not None and op.auth not in schemes and not broken.has("source", "auth"):
            yield (
                (*loc, "auth"),
                f"auth names no scheme of source.auth_schemes ({_names(schemes)})",
            )
        yield from _check_files(loc, op)
        yield from _check_styles(loc, op)
        if op.batch is not None:
            yield from _check_batch(spec, loc, op)
        if op.poll is not None:
            yield from _check_poll(spec, loc, op)


def _check_poll(spec: ConnectorSpec, loc: Loc, op: Operation) -> Iterator[Problem]:
    """A subscription reads a query of the same connector with its own arguments."""
    assert op.poll is not None
    read = spec.operations.get(op.poll.operation)
    where = (*loc, "poll", "operation")
    if read is None or read.kind != "query" or read.is_paginated:
        yield where, f"{op.poll.operation!r} is not an unpaginated query operation of this spec"
        return
    for name in op.args:
        if name not in read.args:
            yield (*loc, "args", name), f"{op.poll.operation!r} has no argument {name!r}"
    if parse_type_ref(read.response.type).base != parse_type_ref(op.response.type).base:
        yield (*loc, "response", "type"), f"must be the type {op.poll.operation!r} returns"
    if op.batch is not None or op.pagination is not None or op.hook is not None:
        yield loc, "a subscription has no batch, pagination or hook: its poll reads a query"


def _check_file_field(loc: Loc, type_text: str, resolves: bool) -> Iterator[Problem]:
    """Files are operation arguments and results, not fields of declared types (a linked
    field, `resolve`d through an operation, may be Binary)."""
    base = parse_type_ref(type_text).base
    if base == FILE_INPUT:
        yield (*loc, "type"), "FileInput is for operation arguments only"
    elif base == BINARY and not resolves:
        yield (
            (*loc, "type"),
            "a Binary field must resolve through an operation whose response is Binary",
        )


def _check_files(loc: Loc, op: Operation) -> Iterator[Problem]:
    """FileInput arguments go into multipart bodies (or a hook); Binary is a whole body."""
    for name, arg in op.args.items():
        if parse_type_ref(arg.type).base != FILE_INPUT:
            continue
        if op.hook is None and op.request.body_format != "multipart":
            yield (
                (*loc, "args", name, "type"),
                "a FileInput argument needs request.body_format: multipart (or a hook)",
            )
        elif op.is_paginated:
            yield (*loc, "args", name, "type"), "a paginated operation cannot take files"
    ref = parse_type_ref(op.response.type)
    if ref.base == BINARY and (ref.is_list or op.is_paginated or op.response.records):
        yield (
            (*loc, "response", "type"),
            "a Binary result is the whole response body: not a list, paginated or records",
        )


STYLES_IN = {
    "query": frozenset({"form", "spaceDelimited", "pipeDelimited", "deepObject"}),
    "path": frozenset({"simple", "label", "matrix"}),
    "header": frozenset({"simple"}),
}
"""The OpenAPI parameter styles each place of a request takes."""


def _check_styles(loc: Loc, op: Operation) -> Iterator[Problem]:
    """An argument's `style` must suit every place the request uses the argument whole."""
    styled = {name: arg.style for name, arg in op.args.items() if arg.style}
    requests = [op.request, *([op.batch.request] if op.batch and op.batch.request else [])]
    for request in requests if styled else []:
        try:
            whole = [
                *(("path", ph) for ph in parse_template(request.path).placeholders),
                *(("query", lone_placeholder(v)) for v in request.query.values()),
                *(("header", lone_placeholder(v)) for v in request.headers.values()),
            ]
        except ValueError:
            continue  # a broken template is reported as such
        for where, placeholder in whole:
            name = placeholder_arg(placeholder)
            style = styled.get(name or "")
            if style is not None and style not in STYLES_IN[where]:
                yield (
                    (*loc, "args", str(name), "style"),
                    f"style {style!r} is not for {where} parameters, and {{args.{name}}} is "
                    f"used in the {where} ({where} styles: {_names(STYLES_IN[where])})",
                )


def _check_batch(spec: ConnectorSpec, loc: Loc, op: Operation) -> Iterator[Problem]:
    batch = op.batch
    assert batch is not None
    if batch.key not in op.args:
        yield (
            (*loc, "batch", "key"),
            f"batch key {batch.key!r} is not an argument of this operation ({_names(op.args)})",
        )
    if op.is_paginated:
        yield (*loc, "batch"), "a paginated operation cannot be batched"
    if batch.match_on is not None:
        base = parse_type_ref(op.response.type).base
        type_spec = spec.types.get(base)
        if isinstance(type_spec, ObjectType) and batch.match_on not in type_spec.fields:
            yield (
                (*loc, "batch", "match_on"),
                f"{batch.match_on!r} is not a field of {base} ({_names(type_spec.fields)})",
            )
