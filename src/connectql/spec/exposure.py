"""Which declared types only hidden operations (`expose: false`) need.

A hidden operation has no field, so input types and enums that only its arguments use would
be orphans in the public schema: they are left out. Every type something public uses stays,
and so do object and union types (declared types appear even when unused).
"""

from __future__ import annotations

from collections.abc import Iterable

from connectql.spec.models import ConnectorSpec, InputType, ObjectType, UnionType
from connectql.spec.typeref import parse_type_ref


def hidden_only_types(spec: ConnectorSpec) -> frozenset[str]:
    """Names of the declared input and enum types reachable only from hidden operations'
    arguments."""
    hidden = [op for op in spec.operations.values() if not op.expose]
    if not hidden:
        return frozenset()
    public_roots: list[str] = []
    for op in spec.operations.values():
        if op.expose:
            public_roots += [arg.type for arg in op.args.values()]
            public_roots.append(op.response.type)
    for name, type_spec in spec.types.items():
        if isinstance(type_spec, (ObjectType, UnionType)):
            public_roots.append(name)
    public = _reachable(spec, public_roots)
    needed = _reachable(spec, [arg.type for op in hidden for arg in op.args.values()])
    return frozenset(needed - public)


def _reachable(spec: ConnectorSpec, roots: Iterable[str]) -> set[str]:
    """Declared type names reachable from the type references `roots`, through fields, the
    arguments of linked fields (their own, and a paginated link's operation's that the link
    does not set) and union members."""
    seen: set[str] = set()
    pending = [parse_type_ref(text).base for text in roots]
    while pending:
        name = pending.pop()
        if name in seen or name not in spec.types:
            continue
        seen.add(name)
        type_spec = spec.types[name]
        if isinstance(type_spec, (ObjectType, InputType)):
            for field in type_spec.fields.values():
                pending.append(parse_type_ref(field.type).base)
                pending += [parse_type_ref(arg.type).base for arg in field.args.values()]
                target = spec.operations.get(field.resolve.operation) if field.resolve else None
                if field.resolve is not None and target is not None and target.is_paginated:
                    unset = (a for n, a in target.args.items() if n not in field.resolve.args)
                    pending += [parse_type_ref(arg.type).base for arg in unset]
        elif isinstance(type_spec, UnionType):
            pending += type_spec.types
    return seen
