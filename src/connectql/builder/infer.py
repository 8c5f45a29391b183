"""Propose spec `types:` from sample responses of one endpoint (`connectql infer`).

    report = infer_report([page1, page2], "Book", records="items")
    print(render_types_yaml(report.types, reasons=report.reasons))

Every record of every sample is merged: a field is non-null (`!`) only when every record has
it with a value; nested objects become types named after their parent and field
(`Book.author` → `BookAuthor`); upstream keys become camelCase GraphQL names with `from` set to
the key. Where the samples cannot decide (only nulls, only empty lists, mixed kinds, integers
too large for GraphQL's 32-bit Int, keys no `from` path can name), the choice is explained in
the report's reasons. `diff_types` compares a spec's declared types with inferred ones.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from connectql.spec.models import TYPE_NAME_PATTERN, EnumType, InputType, ObjectType, UnionType
from connectql.spec.paths import WILDCARD, parse_path
from connectql.spec.typeref import BUILTIN_SCALARS, TypeRef, parse_type_ref

__all__ = [
    "FieldChange",
    "InferReport",
    "Reason",
    "diff_types",
    "infer_report",
    "infer_types",
    "render_types_yaml",
]

Reason = tuple[str, str, str]
"""(type name, field name or upstream key, why); the field is "" for the type as a whole."""

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
"""GraphQL's Int is a signed 32-bit integer."""

RESERVED_TYPE_NAMES = frozenset({"Query", "Mutation", "Subscription", "PageInfo"})
_SEPARATORS = re.compile(r"[^0-9A-Za-z]+")
_PLAIN = re.compile(r"^[A-Za-z_][0-9A-Za-z_.!-]*$")
_LINE = 100


@dataclass(frozen=True)
class InferReport:
    """Proposed `types:` entries (spec YAML form) and why some choices were made."""

    types: dict[str, dict[str, Any]]
    reasons: list[Reason] = field(default_factory=list)

    def yaml(self) -> str:
        """The `types:` section, with the reasons as comments."""
        return render_types_yaml(self.types, reasons=self.reasons)


def infer_types(
    samples: Sequence[Any], root: str, *, records: str | None = None
) -> dict[str, dict[str, Any]]:
    """Spec `types:` entries for the records in `samples`, the record type named `root`."""
    return infer_report(samples, root, records).types


def infer_report(samples: Sequence[Any], root: str, records: str | None = None) -> InferReport:
    """Like `infer_types`, with the reasons behind nullable, JSON, Float and skipped fields.

    `records` is a `from`-style path to the records inside each sample (`items`,
    `data.results`); a sample (after `records`) that is a list holds one record per element.
    Raise ValueError when `root` is not a usable type name or no sample holds an object record.
    """
    if not re.fullmatch(TYPE_NAME_PATTERN, root):
        raise ValueError(f"{root!r} is not a type name (letters, digits, _; a capital first)")
    if root in BUILTIN_SCALARS or root in RESERVED_TYPE_NAMES:
        raise ValueError(f"{root!r} is a built-in or generated type name; choose another")
    if isinstance(samples, (str, bytes)):
        raise TypeError("samples must be a sequence of parsed JSON values, not text")
    inferrer = _Inferrer()
    found = _collect_records(samples, records, root, inferrer.reasons)
    if not found:
        where = f" at records path {records!r}" if records else ""
        raise ValueError(f"no object records in the samples{where}")
    if inferrer.object_type(root, found) is None:
        raise ValueError("the records have no keys that can become GraphQL fields")
    types = {name: inferrer.types[name] for name in sorted(inferrer.types)}
    return InferReport(types, inferrer.reasons)


# --- records ---------------------------------------------------------------------------------


def _collect_records(
    samples: Sequence[Any], records: str | None, root: str, reasons: list[Reason]
) -> list[Mapping[str, Any]]:
    path = parse_path(records) if records else None
    found: list[Mapping[str, Any]] = []
    for number, sample in enumerate(samples, start=1):
        value = sample if path is None else path.get(sample)
        if value is None:
            where = f"at records path {records!r}" if records else "in it"
            reasons.append((root, "", f"sample {number}: nothing {where}"))
            continue
        items = value if isinstance(value, list) else [value]
        objects = [item for item in items if isinstance(item, Mapping)]
        if len(objects) < len(items):
            skipped = len(items) - len(objects)
            reasons.append((root, "", f"sample {number}: skipped {skipped} non-object record(s)"))
        found.extend(objects)
    return found


# --- inference -------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "list"
    return "other"


@dataclass(frozen=True)
class _Site:
    """Where values come from: a field of an object type, for names and reasons."""

    owner: str
    field: str
    key: str

    def id_like(self, in_list: bool) -> bool:
        """`id`, `author_id`, `authorId`; in a list, `ids`, `tag_ids`, `tagIds`."""
        if in_list:
            return self.field == "ids" or self.field.endswith(("Ids", "IDs"))
        return self.field == "id" or self.field.endswith(("Id", "ID")) or self.key.endswith("_id")


class _Inferrer:
    def __init__(self) -> None:
        self.types: dict[str, dict[str, Any]] = {}
        self.reasons: list[Reason] = []
        self._taken: set[str] = set(BUILTIN_SCALARS | RESERVED_TYPE_NAMES)

    def note(self, site: _Site, reason: str) -> None:
        self.reasons.append((site.owner, site.field, reason))

    def object_type(self, base_name: str, records: Sequence[Mapping[str, Any]]) -> str | None:
        """Declare the merged type of `records`; None if it would have no fields."""
        keys = list(dict.fromkeys(key for record in records for key in record))
        if not keys:
            return None
        name = self._allocate(base_name)
        names = self._field_names(name, keys)
        if not names:
            self._taken.discard(name)
            return None
        fields: dict[str, Any] = {}
        for key, fname in names.items():
            ref = self._field_type(_Site(name, fname, key), records)
            fields[fname] = ref if fname == key else {"type": ref, "from": key}
        self.types[name] = {"fields": fields}
        return name

    def _allocate(self, base: str) -> str:
        name, number = base, 2
        while name in self._taken:
            name, number = f"{base}{number}", number + 1
        self._taken.add(name)
        return name

    def _field_names(self, owner: str, keys: Sequence[Any]) -> dict[str, str]:
        """GraphQL names of the usable keys, in first-seen order; unusable keys noted."""
        wanted: dict[str, str] = {}
        for key in keys:
            problem = _key_problem(key)
            name = None if problem else _camel(key)
            if problem or name is None:
                why = problem or "no GraphQL name can be made from it"
                self.reasons.append((owner, str(key), f"upstream key {key!r} skipped: {why}"))
            else:
                wanted[key] = name
        chosen = {key: name for key, name in wanted.items() if key == name}
        taken = set(chosen.values())
        for key, name in wanted.items():
            if key in chosen:
                continue
            final, number = name, 2
            while final in taken:
                final, number = f"{name}{number}", number + 1
            if final != name:
                others = ", ".join(repr(k) for k, n in wanted.items() if n == name and k != key)
                why = f"upstream key {key!r} named {final}: {name} is taken by {others}"
                self.reasons.append((owner, final, why))
            chosen[key] = final
            taken.add(final)
        return {key: chosen[key] for key in wanted}

    def _field_type(self, site: _Site, records: Sequence[Mapping[str, Any]]) -> str:
        values = [record[site.key] for record in records if site.key in record]
        present = [v for v in values if v is not None]
        if not present:
            self.note(site, "only null seen; JSON until a sample shows a value")
            return "JSON"
        ref = self._type_of(site, present, in_list=False)
        return f"{ref}!" if len(present) == len(records) else ref

    def _type_of(self, site: _Site, values: Sequence[Any], *, in_list: bool) -> str:
        """The type (nullability left to the caller) of non-null `values`."""
        kinds = {_kind(v) for v in values}
        if kinds == {"object"}:
            nested = self.object_type(site.owner + _pascal(site.field), values)
            if nested is None:
                self.note(site, "only empty objects (or no usable keys) seen; JSON")
                return "JSON"
            return nested
        if kinds == {"list"}:
            return self._list_type(site, values)
        scalar, reason = _scalar_type(kinds, values, id_like=site.id_like(in_list))
        if reason:
            self.note(site, reason)
        return scalar

    def _list_type(self, site: _Site, lists: Sequence[Sequence[Any]]) -> str:
        elements = [element for value in lists for element in value]
        present = [element for element in elements if element is not None]
        if not elements:
            self.note(site, "only empty lists seen; element type unknown, [JSON]")
            return "[JSON]"
        if not present:
            self.note(site, "list elements only null; element type unknown, [JSON]")
            return "[JSON]"
        inner = self._type_of(site, present, in_list=True)
        return f"[{inner}!]" if len(present) == len(elements) else f"[{inner}]"


def _scalar_type(kinds: set[str], values: Sequence[Any], *, id_like: bool) -> tuple[str, str]:
    """(GraphQL scalar, reason or "") for non-null scalar values of the given kinds."""
    if kinds == {"boolean"}:
        return "Boolean", ""
    if id_like and kinds <= {"string", "integer"}:
        return "ID", ""
    if kinds == {"string"}:
        return "String", ""
    if kinds == {"integer"}:
        outside = [v for v in values if not INT_MIN <= v <= INT_MAX]
        if not outside:
            return "Int", ""
        return "Float", (
            f"integers beyond GraphQL's 32-bit Int seen (e.g. {outside[0]}); Float is exact "
            "only up to 2^53, use String or ID if exact values matter"
        )
    if kinds <= {"integer", "float"}:
        return "Float", ""
    return "JSON", f"mixed kinds seen ({', '.join(sorted(kinds))}); JSON passes them through"


# --- names -----------------------------------------------------------------------------------


def _key_problem(key: Any) -> str:
    """Why `key` cannot be a one-step `from` path, or "" if it can."""
    if not isinstance(key, str):
        return "not a string key"
    if key == WILDCARD:
        return "'*' means every list element in a path"
    try:
        steps = parse_path(key).steps
    except ValueError:
        steps = ()
    if steps != (key,):
        return "a `from` path cannot name it ('.', '[', ']', '{', '}' or whitespace in it)"
    return ""


def _camel(key: str) -> str | None:
    """`author_id` → `authorId`, `created-at` → `createdAt`, `URL` → `url`, `2fa` → `_2fa`."""
    parts = [part for part in _SEPARATORS.split(key) if part]
    if not parts:
        return None
    name = _lower_head(parts[0]) + "".join(part[0].upper() + part[1:] for part in parts[1:])
    return f"_{name}" if name[0].isdigit() else name


def _lower_head(word: str) -> str:
    """Lower the leading capitals: `Name` → `name`, `HTMLParser` → `htmlParser`, `ID` → `id`."""
    if word.isupper():
        return word.lower()
    run = len(word) - len(word.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    keep = max(run - 1, 1) if run else 0
    return word[:keep].lower() + word[keep:]


def _pascal(name: str) -> str:
    name = name.lstrip("_")
    return name[:1].upper() + name[1:]


# --- YAML ------------------------------------------------------------------------------------


def render_types_yaml(types: Mapping[str, Any], *, reasons: Iterable[Reason] = ()) -> str:
    """The `types:` section of a spec, types sorted by name, fields in their given order.

    A field given as just its type stays shorthand (`id: ID!`); short field specs are flow
    mappings (`authorId: {type: ID!, from: author_id}`). `reasons` become `#` comments.
    """
    notes: dict[tuple[str, str], list[str]] = {}
    for type_name, field_name, why in reasons:
        notes.setdefault((type_name, field_name), []).append(" ".join(why.split()))
    lines = ["types:"]
    for name in sorted(types):
        lines.extend(_render_type(name, types[name], notes))
    return "\n".join(lines) + "\n"


def _render_type(name: str, body: Any, notes: Mapping[tuple[str, str], list[str]]) -> Iterator[str]:
    yield f"  {_scalar(name)}:"
    for note in notes.get((name, ""), []):
        yield f"    # {note}"
    if not isinstance(body, Mapping):
        yield f"    {_flow(body)}"
        return
    for key, value in body.items():
        if key == "fields" and isinstance(value, Mapping) and value:
            yield "    fields:"
            for fname, spec in value.items():
                comment = "; ".join(notes.get((name, str(fname)), []))
                yield from _entry(fname, spec, 3, comment)
            shown = {str(fname) for fname in value}
            for (type_name, other), texts in notes.items():
                if type_name == name and other and other not in shown:
                    yield from (f"      # {other}: {text}" for text in texts)
        else:
            yield from _entry(key, value, 2, "")


def _entry(key: Any, value: Any, depth: int, comment: str) -> Iterator[str]:
    pad = "  " * depth
    tail = f"  # {comment}" if comment else ""
    flow = _flow(value)
    if not isinstance(value, Mapping) or not value or len(pad) + len(flow) < _LINE - 10:
        yield f"{pad}{_scalar(key)}: {flow}{tail}"
        return
    yield f"{pad}{_scalar(key)}:{tail}"
    for inner_key, inner in value.items():
        yield from _entry(inner_key, inner, depth + 1, "")


def _flow(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_scalar(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return _scalar(value)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    if _PLAIN.match(text) and yaml.safe_load(text) == text:
        return text
    return json.dumps(text, ensure_ascii=not text.isprintable())


# --- diff ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldChange:
    """One difference between a declared field and what the samples suggest."""

    type_name: str
    field: str
    change: str
    """"added", "removed", "type" or "nullability"."""
    declared: str | None
    inferred: str | None
    reason: str


@dataclass(frozen=True)
class _Field:
    name: str
    type: str
    path: str
    resolved: bool
    """Computed by an operation (`resolve`), so not in the upstream record."""


def diff_types(declared: Mapping[str, Any], inferred: Mapping[str, Any]) -> list[FieldChange]:
    """What replacing `declared` object types with `inferred` ones would change, per field.

    Both may be raw `types:` dicts of a spec file or `ConnectorSpec.types` models. Declared
    fields that resolve through an operation are not upstream data and are left out, as are
    declared types the inference has no counterpart for (one endpoint says nothing of them).
    Fields are matched by their upstream path (`from`, else the name).
    """
    kinds = {name: _type_kind(spec) for name, spec in declared.items()}
    objects = {name: _object_fields(spec) for name, spec in inferred.items()}
    changes: list[FieldChange] = []
    for name in sorted(objects):
        new = objects[name]
        if new is None:
            continue
        old = _object_fields(declared[name]) if name in declared else None
        if old is None:
            why = f"declared {name} is a {kinds[name]} type" if name in kinds else "new type"
            changes.extend(
                FieldChange(name, f.name, "added", None, f.type, why) for f in new if not f.resolved
            )
        else:
            changes.extend(_diff_object(name, old, new, objects, kinds))
    return changes


def _diff_object(
    name: str,
    old: list[_Field],
    new: list[_Field],
    objects: Mapping[str, list[_Field] | None],
    kinds: Mapping[str, str],
) -> Iterator[FieldChange]:
    old_paths = {f.path for f in old if not f.resolved}
    for f in new:
        if not f.resolved and f.path not in old_paths:
            yield FieldChange(
                name, f.name, "added", None, f.type, f"seen in the samples at {f.path}"
            )
    for f in old:
        if f.resolved:
            continue
        try:
            steps = parse_path(f.path).steps
        except ValueError:
            continue
        if not steps or WILDCARD in steps:
            continue  # the whole record, or a mapped list: not comparable field by field
        found = _lookup(objects, name, steps)
        if found is None:
            yield FieldChange(
                name, f.name, "removed", f.type, None, f"not seen in any sample (path {f.path})"
            )
        else:
            change = _compare(name, f, found, kinds)
            if change is not None:
                yield change


def _lookup(
    objects: Mapping[str, list[_Field] | None], owner: str, steps: Sequence[str | int]
) -> str | None:
    """The inferred type at path `steps` from object type `owner`, or None if not inferred."""
    ref = TypeRef(name=owner, non_null=True)
    non_null = True
    for step in steps:
        if isinstance(step, int):
            if ref.of is None:
                return None
            ref, non_null = ref.of, False  # an index may be out of range
            continue
        fields = objects.get(ref.base) if not ref.is_list else None
        match = next((f for f in fields or [] if f.path == step and not f.resolved), None)
        if match is None:
            return None
        ref = parse_type_ref(match.type)
        non_null = non_null and ref.non_null
    return str(TypeRef(name=ref.name, of=ref.of, non_null=non_null))


def _compare(name: str, old: _Field, inferred: str, kinds: Mapping[str, str]) -> FieldChange | None:
    declared = str(parse_type_ref(old.type))
    if declared == inferred:
        return None
    if declared.replace("!", "") != inferred.replace("!", ""):
        d_base, i_base = parse_type_ref(declared).base, parse_type_ref(inferred).base
        why = (
            _type_hint(d_base, i_base, kinds) or f"declared {declared}, samples suggest {inferred}"
        )
        return FieldChange(name, old.name, "type", declared, inferred, why)
    return FieldChange(
        name, old.name, "nullability", declared, inferred, _nullability_hint(declared, inferred)
    )


def _type_hint(declared: str, inferred: str, kinds: Mapping[str, str]) -> str:
    if inferred == "JSON":
        return "the samples could not pin the type (only nulls, empty lists or mixed kinds)"
    if kinds.get(declared) == "enum" and inferred == "String":
        return f"declared enum {declared}; the samples show strings: keep it if they are fixed"
    if declared == "Float" and inferred == "Int":
        return "declared Float also takes the integers seen; keep it if the upstream sends decimals"
    if declared == "ID" and inferred in ("String", "Int"):
        return f"declared ID also takes the {inferred} values seen"
    return ""


def _nullability_hint(declared: str, inferred: str) -> str:
    d_outer, i_outer = declared.endswith("!"), inferred.endswith("!")
    if d_outer and not i_outer:
        return "some sample records lack it or have null; non-null would fail them"
    if i_outer and not d_outer:
        return "every sample record has a value; declared nullable"
    return f"list elements: declared {declared}, samples suggest {inferred}"


def _type_kind(spec: Any) -> str:
    if isinstance(spec, Mapping):
        kind = spec.get("kind", "object")
        return kind if isinstance(kind, str) else "object"
    if isinstance(spec, (ObjectType, InputType, EnumType, UnionType)):
        return spec.kind
    return "object"


def _object_fields(spec: Any) -> list[_Field] | None:
    """The fields of an object type (raw dict or model), shorthand normalised; else None."""
    if _type_kind(spec) != "object":
        return None
    if isinstance(spec, ObjectType):
        return [
            _Field(name, f.type, f.from_ or name, f.resolve is not None)
            for name, f in spec.fields.items()
        ]
    raw = spec.get("fields") if isinstance(spec, Mapping) else None
    if not isinstance(raw, Mapping):
        return None
    fields = []
    for name, value in raw.items():
        body = {"type": value} if isinstance(value, str) else value
        if not isinstance(body, Mapping) or not isinstance(body.get("type"), str):
            continue
        path = body.get("from") or name
        fields.append(_Field(str(name), body["type"], str(path), body.get("resolve") is not None))
    return fields
