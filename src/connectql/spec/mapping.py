"""Records reshaped with the spec's `from` paths, outside GraphQL.

    map_record({"user": {"login": "octo"}, "labels": [{"name": "bug"}]},
               {"login": "user.login", "labels": "labels[*].name"})
    # {"login": "octo", "labels": ["bug"]}

`shape` does the same for a value of a declared response type: every field read at its
`from` path (or its own name), nested types and unions included, as the GraphQL schema
resolves them. Fields that link to another operation (`resolve`) are left out: following
them takes upstream calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from connectql.errors import SpecError, SpecLocation
from connectql.spec.models import ConnectorSpec, ObjectType, UnionType
from connectql.spec.paths import Path, parse_path
from connectql.spec.typeref import TypeRef, parse_type_ref

__all__ = ["map_record", "shape"]


def map_record(record: Any, mapping: Mapping[str, str]) -> dict[str, Any]:
    """`{field: path}` → `{field: the value at path in record}`; a missing value is None.

    Raises SpecError naming the field whose path is malformed.
    """
    paths: dict[str, Path] = {}
    for field, text in mapping.items():
        if not isinstance(text, str):
            raise _bad(field, f"the path must be a string, got {type(text).__name__}")
        try:
            paths[field] = _path(text)
        except ValueError as exc:
            raise _bad(field, str(exc)) from None
    return {field: path.get(record) for field, path in paths.items()}


def _bad(field: str, message: str) -> SpecError:
    return SpecError(message, SpecLocation("mapping", None, None, field))


def shape(spec: ConnectorSpec, type_text: str, value: Any) -> Any:
    """`value` as the spec's type `type_text` gives it: objects with their declared fields."""
    return _shape(spec, parse_type_ref(type_text), value)


@lru_cache(maxsize=4096)
def _path(text: str) -> Path:
    return parse_path(text)


def _shape(spec: ConnectorSpec, ref: TypeRef, value: Any) -> Any:
    if value is None:
        return None
    if ref.of is not None:
        items = value if isinstance(value, list) else [value]
        return [_shape(spec, ref.of, item) for item in items]
    declared = spec.types.get(ref.base)
    if isinstance(declared, UnionType) and isinstance(value, Mapping):
        tag = _path(declared.discriminator.field).get(value)
        member = declared.discriminator.mapping.get(str(tag))
        return _shape(spec, TypeRef(member), value) if member else value
    if isinstance(declared, ObjectType) and isinstance(value, Mapping):
        return {
            name: _shape(spec, parse_type_ref(f.type), _path(f.from_ or name).get(value))
            for name, f in declared.fields.items()
            if f.resolve is None
        }
    return value  # scalars, enums (the upstream's value) and JSON as they came
