"""Checks of the shape controls: a linked field's declared type against what its operation
returns, `connection: false`, and a linked field's own arguments.

A declared type is what clients see, so one the operation contradicts (another type, one
item for a list or a list for one item, a plain list declared as one item) is an error here,
never silently replaced. Nullability may differ either way.
"""

from __future__ import annotations

from collections.abc import Iterator

from connectql.spec.models import ConnectorSpec, FieldSpec, ObjectType, Operation
from connectql.spec.typeref import TypeRef, parse_type_ref

Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]

CONNECTION_ARGS = frozenset({"first", "after"})


def check_shape(spec: ConnectorSpec) -> Iterator[Problem]:
    for tname, type_spec in spec.types.items():
        if not isinstance(type_spec, ObjectType):
            continue  # input fields are refused a resolve elsewhere
        for fname, field in type_spec.fields.items():
            loc: Loc = ("types", tname, "fields", fname)
            if field.resolve is None:
                if field.args:
                    yield (
                        (*loc, "args"),
                        "only a linked field (with resolve) takes arguments",
                    )
                continue
            target = spec.operations.get(field.resolve.operation)
            if target is None:
                continue  # reported by the resolve check
            yield from _check_link(loc, field, field.resolve.operation, target)


def _shape(ref: TypeRef) -> str:
    """`[[Issue]]` without its `!`s: what a declared type must agree with."""
    return f"[{_shape(ref.of)}]" if ref.of is not None else ref.base


def _check_link(loc: Loc, field: FieldSpec, op_name: str, op: Operation) -> Iterator[Problem]:
    assert field.resolve is not None
    declared = parse_type_ref(field.type)
    returned = parse_type_ref(op.response.type)
    if op.is_paginated:
        item = returned.base
        expected = f"[{item}]"
        if _shape(declared) != expected:
            kind = "a plain list" if not field.resolve.connection else "a connection"
            yield (
                (*loc, "type"),
                f"declared {field.type}, but operation {op_name!r} is paginated and gives "
                f"{kind} of {item}: declare {expected}",
            )
        for name in field.args:
            if name == "after" and field.resolve.connection:
                yield (
                    (*loc, "args", name),
                    "`after` is the connection's own cursor argument; rename this one",
                )
            elif name == "first" and parse_type_ref(field.args[name].type).base != "Int":
                yield (
                    (*loc, "args", name, "type"),
                    "`first` caps a paginated link's items: its type must be Int",
                )
        return
    if not field.resolve.connection:
        yield (
            (*loc, "resolve", "connection"),
            f"operation {op_name!r} is not paginated: `connection: false` is for links to "
            "paginated operations",
        )
    if _shape(declared) != _shape(returned):
        if declared.base != returned.base:
            why = f"it returns {returned.base}"
        elif returned.is_list:
            why = "it returns a list"
        else:
            why = "it returns one item"
        yield (
            (*loc, "type"),
            f"declared {field.type}, but operation {op_name!r} returns {op.response.type} "
            f"({why}): declare {_shape(returned)}",
        )
