"""Entities of a spec: object types with a `key`, fetched by a `lookup` query.

A federation gateway sends an entity's representation (its `__typename` and key fields);
the type's lookup turns it into the arguments of one query operation:

    User:
      key: login
      lookup: user                                  # shorthand: args {login: "{parent.login}"}
      lookup: {operation: user, args: {login: "{parent.login}"}}   # the same, in full

`check_entities` reports what is wrong with either (called by `spec/checks.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from connectql.spec.models import ConnectorSpec, EnumType, ObjectType, Resolve
from connectql.spec.templates import parse_template, template_strings
from connectql.spec.typeref import BUILTIN_SCALARS, parse_type_ref

Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]


def key_fields(spec: ObjectType) -> tuple[str, ...]:
    """The fields of the type's `key`, in order (none without one)."""
    if spec.key is None:
        return ()
    return (spec.key,) if isinstance(spec.key, str) else tuple(spec.key)


def lookup_of(spec: ObjectType) -> Resolve | None:
    """The type's lookup in full: the shorthand passes each key field as the argument of
    the same name."""
    if spec.lookup is None or isinstance(spec.lookup, Resolve):
        return spec.lookup
    return Resolve(
        operation=spec.lookup, args={name: f"{{parent.{name}}}" for name in key_fields(spec)}
    )


def _names(values: Iterable[Any]) -> str:
    names = sorted(str(v) for v in values)
    return ", ".join(names) if names else "none declared"


def check_entities(
    spec: ConnectorSpec, is_broken: Callable[[str, str], bool] = lambda section, name: False
) -> Iterator[Problem]:
    """The problems of every `key` and `lookup`; `is_broken(section, name)` says a part of
    the file is declared but left out as broken (reported on its own)."""
    for name, type_spec in spec.types.items():
        if isinstance(type_spec, ObjectType) and (type_spec.key or type_spec.lookup):
            key_problems = list(_check_key(spec, name, type_spec))
            yield from key_problems
            if type_spec.lookup is not None and not key_problems:
                yield from _check_lookup(spec, name, type_spec, is_broken)


def _check_key(spec: ConnectorSpec, name: str, type_spec: ObjectType) -> Iterator[Problem]:
    loc: Loc = ("types", name, "key")
    if type_spec.key is None:
        yield (
            ("types", name, "lookup"),
            f"lookup needs key: the fields a gateway sends to identify one {name}",
        )
        return
    if not key_fields(type_spec):
        yield loc, "key names no field"
    for i, field_name in enumerate(key_fields(type_spec)):
        where = loc if isinstance(type_spec.key, str) else (*loc, i)
        field = type_spec.fields.get(field_name)
        if field is None:
            yield (
                where,
                f"key field {field_name!r} is not a field of {name} ({_names(type_spec.fields)})",
            )
            continue
        ref = parse_type_ref(field.type)
        found = spec.types.get(ref.base)
        if field.resolve is not None:
            yield where, f"key field {field_name!r} resolves through an operation: a key is data"
        elif ref.is_list:
            yield where, f"key field {field_name!r} is a list; a key is made of single values"
        elif ref.base not in BUILTIN_SCALARS and not isinstance(found, EnumType):
            yield (
                where,
                f"key field {field_name!r} is of type {ref.base}; a key is made of scalar "
                "and enum fields",
            )


def _check_lookup(
    spec: ConnectorSpec,
    name: str,
    type_spec: ObjectType,
    is_broken: Callable[[str, str], bool],
) -> Iterator[Problem]:
    lookup = lookup_of(type_spec)
    assert lookup is not None
    short = not isinstance(type_spec.lookup, Resolve)
    loc: Loc = ("types", name, "lookup")
    at_operation = loc if short else (*loc, "operation")
    op = spec.operations.get(lookup.operation)
    if op is None:
        if not is_broken("operations", lookup.operation):
            yield (
                at_operation,
                f"lookup names operation {lookup.operation!r}, which is not declared "
                f"({_names(spec.operations)})",
            )
        return
    returns = parse_type_ref(op.response.type)
    unfit = op.kind != "query" or returns.base != name or returns.is_list or op.is_paginated
    if op.kind != "query":
        yield (
            at_operation,
            f"lookup operation {lookup.operation!r} is a {op.kind}; it must be a query",
        )
    if returns.base != name:
        yield (
            at_operation,
            f"lookup operation {lookup.operation!r} returns {op.response.type}, not {name}",
        )
    elif returns.is_list or op.is_paginated:
        yield (
            at_operation,
            f"lookup operation {lookup.operation!r} returns a list of {name}; a lookup "
            f"returns one {name} (or null)",
        )
    if unfit:
        return  # its arguments are beside the point
    keys = key_fields(type_spec)
    unknown = [given for given in lookup.args if given not in op.args]
    for given in lookup.args:
        if given not in op.args:
            where = loc if short else (*loc, "args", given)
            hint = (
                f" for key field {given!r}; write lookup: {{operation: {lookup.operation}, "
                f'args: {{ARG: "{{parent.{given}}}"}}}}'
                if short
                else ""
            )
            yield (
                where,
                f"operation {lookup.operation!r} has no argument {given!r}{hint} "
                f"(arguments: {_names(op.args)})",
            )
    for arg_name, arg in op.args.items() if not (short and unknown) else ():
        required = parse_type_ref(arg.type).non_null and arg.default is None
        if required and arg_name not in lookup.args:
            where = loc if short else (*loc, "args")
            yield (
                where,
                f"operation {lookup.operation!r} needs argument {arg_name!r}, which the "
                f"lookup does not give (key: {_names(keys)})",
            )
    if short:
        return
    for rel, text in template_strings(dict(lookup.args)):
        for ph in parse_template(text).placeholders:
            head = ph.path.steps[0] if ph.path.steps else None
            if ph.namespace not in ("parent", "config"):
                yield (
                    (*loc, "args", *rel),
                    f"{ph.text} is not available here (allowed: config, parent)",
                )
            elif ph.namespace == "parent" and head not in keys:
                yield (
                    (*loc, "args", *rel),
                    f"{ph.text} is not a key field of {name}: a gateway sends only the key "
                    f"({_names(keys)})",
                )
