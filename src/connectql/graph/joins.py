"""Joins: a field on one connector's type resolved by an operation of another connector.

A spec author knows one API, so joins are declared where connectors meet (`links:` in
connectql.yaml, or the registry) and never inside a spec. A join is built like a local link
(`resolve` in a spec): its `{parent.X}` templates are rewritten to the raw paths of the
parent's fields, and the target connector's dataloader batches it.

The runtime plans the joins of every change (`plan_joins`) from the links and the running
connectors. A link whose target is not running but was served before keeps its field, typed
by the target's last known spec, and answers CONNECTOR_UNAVAILABLE; a link that can't be
built (its target never known, or the link no longer fits the specs) is left out, with the
reason in its status.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLField, GraphQLResolveInfo
from pydantic import BaseModel, ConfigDict

from connectql.connectors.connector import Connector
from connectql.errors import ConnectorError
from connectql.graph.types import ConnectorTypes, type_prefix
from connectql.spec.models import ConnectorSpec, ObjectType, Resolve
from connectql.spec.paths import WILDCARD, key_path, parse_path
from connectql.spec.templates import Placeholder, parse_template
from connectql.spec.typeref import parse_type_ref

ACTIVE, UNAVAILABLE, OMITTED = "active", "unavailable", "omitted"
"""A link's state: served; served, answering CONNECTOR_UNAVAILABLE; left out of the schema."""

UNAVAILABLE_CODE = "CONNECTOR_UNAVAILABLE"
JOIN_TARGET_UNAVAILABLE = "JOIN_TARGET_UNAVAILABLE"
JOIN_REMOVED = "JOIN_REMOVED"
"""SchemaChange types of a plan that stops serving a join (both breaking)."""

_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]*$")

Loc = tuple[str | int, ...]
FieldMaker = Callable[[], GraphQLField]


class Link(BaseModel):
    """One join: `type.field` resolved by `connector.operation` with `args`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    """The GraphQL type the field is added to (connector prefix + spec type: TrackerUser)."""
    field: str
    connector: str
    operation: str
    args: dict[str, Any] = {}
    """The operation's arguments: literals, or templates reading the parent's GraphQL
    fields (`{parent.email}`, `{parent.owner.login}`)."""
    description: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.type, self.field

    @property
    def name(self) -> str:
        return f"{self.type}.{self.field}"


@dataclass(frozen=True)
class LinkProblem:
    """What is wrong with a link, and at which of its keys (`operation`, `args.email`)."""

    loc: Loc
    message: str

    @property
    def path(self) -> str:
        return dotted(self.loc)


@dataclass(frozen=True)
class JoinStatus:
    link: Link
    state: str
    reason: str | None = None


def dotted(loc: Iterable[str | int]) -> str:
    """`("links", 0, "args", "email")` → `links[0].args.email`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


# --- checking a link against specs -----------------------------------------------------------


def find_type(name: str, specs: Mapping[str, ConnectorSpec]) -> tuple[str, ObjectType] | None:
    """The connector and spec object type that GraphQL type `name` comes from."""
    for connector, spec in specs.items():
        prefix = type_prefix(connector)
        if name.startswith(prefix):
            found = spec.types.get(name[len(prefix) :])
            if isinstance(found, ObjectType):
                return connector, found
    return None


def _object_types(specs: Mapping[str, ConnectorSpec]) -> list[str]:
    return sorted(
        type_prefix(c) + t
        for c, spec in specs.items()
        for t, decl in spec.types.items()
        if isinstance(decl, ObjectType)
    )


def _suggest(wrong: str, known: Iterable[str], what: str) -> str:
    names = sorted(known)
    close = difflib.get_close_matches(wrong, names, n=1)
    if close:
        return f" (did you mean {close[0]}?)"
    if not names:
        return f" (there are no {what})"
    shown = ", ".join(names[:10]) + (", …" if len(names) > 10 else "")
    return f" ({what}: {shown})"


def check_link(
    link: Link, specs: Mapping[str, ConnectorSpec], taken: Iterable[tuple[str, str]] = ()
) -> list[LinkProblem]:
    """Every problem of `link` against the connectors' `specs`; `taken` are the (type, field)
    of the other links."""
    problems: list[LinkProblem] = []
    source = find_type(link.type, specs)
    if source is None:
        problems.append(
            LinkProblem(
                ("type",),
                f"no connector type is named {link.type}"
                + _suggest(link.type, _object_types(specs), "object types"),
            )
        )
    if not _NAME.match(link.field) or link.field.startswith("__"):
        problems.append(LinkProblem(("field",), f"{link.field!r} is not a GraphQL field name"))
    elif source is not None and link.field in source[1].fields:
        problems.append(LinkProblem(("field",), f"{link.type} already has a field {link.field}"))
    elif link.key in set(taken):
        problems.append(LinkProblem(("field",), f"another link already adds {link.name}"))
    target = specs.get(link.connector)
    if target is None:
        problems.append(
            LinkProblem(
                ("connector",),
                f"no connector named {link.connector}"
                + _suggest(link.connector, specs, "connectors"),
            )
        )
        return problems
    op = target.operations.get(link.operation)
    queries = [n for n, o in target.operations.items() if o.kind == "query"]
    if op is None:
        problems.append(
            LinkProblem(
                ("operation",),
                f"{link.connector} has no operation {link.operation}"
                + _suggest(link.operation, queries, "its queries"),
            )
        )
        return problems
    if op.kind != "query":
        problems.append(
            LinkProblem(
                ("operation",), f"{link.operation} is a {op.kind}; a join reads with a query"
            )
        )
    for name, value in link.args.items():
        if name not in op.args:
            problems.append(
                LinkProblem(
                    ("args", name),
                    f"{link.operation} has no argument {name}"
                    + _suggest(name, op.args, "its arguments"),
                )
            )
            continue
        problems += _check_templates(value, ("args", name), link, source)
    if not op.is_paginated:  # a connection's other arguments become the field's arguments
        for name, arg in op.args.items():
            if name not in link.args and parse_type_ref(arg.type).non_null and arg.default is None:
                problems.append(
                    LinkProblem(("args",), f"{link.operation} needs the argument {name}")
                )
    return problems


def _check_templates(
    value: Any, loc: Loc, link: Link, source: tuple[str, ObjectType] | None
) -> list[LinkProblem]:
    problems: list[LinkProblem] = []
    for text in _strings(value):
        try:
            template = parse_template(text)
        except ValueError as exc:
            problems.append(LinkProblem(loc, str(exc)))
            continue
        for placeholder in template.placeholders:
            if placeholder.namespace != "parent":
                problems.append(
                    LinkProblem(
                        loc,
                        f"{placeholder.text}: a link's arguments read the parent's fields "
                        "only ({parent.FIELD})",
                    )
                )
                continue
            steps = placeholder.path.steps
            if not steps or not isinstance(steps[0], str) or steps[0] == WILDCARD:
                problems.append(
                    LinkProblem(loc, f"{placeholder.text}: name a field of {link.type}")
                )
                continue
            if source is None:
                continue
            declared = source[1].fields.get(steps[0])
            if declared is None:
                problems.append(
                    LinkProblem(
                        loc,
                        f"{link.type} has no field {steps[0]}"
                        + _suggest(steps[0], source[1].fields, "its fields"),
                    )
                )
            elif declared.resolve is not None:
                problems.append(
                    LinkProblem(
                        loc,
                        f"{link.type}.{steps[0]} is resolved by another operation; "
                        "{parent.X} reads fields holding data",
                    )
                )
    return problems


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


# --- {parent.X} → the raw record's path --------------------------------------------------------


def raw_args(link: Link, parent: ObjectType) -> dict[str, Any]:
    """The link's args with every `{parent.FIELD…}` rewritten to read the raw record, through
    FIELD's `from` path: what a `resolve` in the parent's spec would say."""
    return {name: _rewrite(value, parent) for name, value in link.args.items()}


def _rewrite(value: Any, parent: ObjectType) -> Any:
    if isinstance(value, Mapping):
        return {k: _rewrite(v, parent) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, parent) for v in value]
    if not isinstance(value, str) or "{" not in value:
        return value
    out: list[str] = []
    for part in parse_template(value).parts:
        if isinstance(part, str):
            out.append(part.replace("{", "{{").replace("}", "}}"))
            continue
        out.append(_raw_placeholder(part, parent))
    return "".join(out)


def _raw_placeholder(placeholder: Placeholder, parent: ObjectType) -> str:
    first, *rest = placeholder.path.steps
    declared = parent.fields[str(first)]
    head = parse_path(declared.from_).steps if declared.from_ else (first,)
    steps = (*head, *rest)
    return "{parent" + ("." + _path_text(steps) if steps else "") + "}"


def _path_text(steps: Iterable[str | int]) -> str:
    out = ""
    for step in steps:
        if step == WILDCARD:
            out += "[*]"
        elif isinstance(step, int):
            out += f"[{step}]"
        else:
            key = key_path(step)
            out += ("." if out and not key.startswith("[") else "") + key
    return out


# --- planning the joins of a change -------------------------------------------------------------


@dataclass
class Joins:
    """The joins of one plan: each link's status, and the fields to add to source types."""

    statuses: list[JoinStatus] = field(default_factory=list)
    fields: dict[str, dict[str, dict[str, FieldMaker]]] = field(default_factory=dict)
    """Source connector → spec type → field name → its builder (run when the type's
    fields are first read, once every connector's types exist)."""
    keys: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    """Source connector → what its join fields depend on: its types are rebuilt when it
    changes."""
    targets: dict[str, set[str]] = field(default_factory=dict)
    """Source connector → the connectors its join fields are typed by."""
    ghosts: dict[str, Connector] = field(default_factory=dict)
    """Targets that are not running, by name: their last known connector, never started,
    whose types stay in the schema for the join fields typed by them."""
    types: dict[str, ConnectorTypes] = field(default_factory=dict)
    """Every connector's types in the schema being built (filled by build_schema)."""

    def of(self, connector: str) -> tuple[Mapping[str, Mapping[str, FieldMaker]], Any]:
        """The join fields of `connector`'s types, and the key they are built for."""
        return self.fields.get(connector, {}), self.keys.get(connector, ())

    def reusable(
        self, cache: Mapping[int, ConnectorTypes], served: Mapping[str, Connector]
    ) -> dict[int, ConnectorTypes]:
        """The cached types still valid with these joins: their join fields are the same,
        and every connector they are typed by keeps its types too."""
        kept = {
            k: v for k, v in cache.items() if v.joins_key == self.keys.get(v.connector.name, ())
        }
        by_name = {**self.ghosts, **served}
        while True:
            rebuilt = {n for n, c in by_name.items() if id(c) not in kept}
            dropped = {
                k for k, v in kept.items() if self.targets.get(v.connector.name, set()) & rebuilt
            }
            if not dropped:
                return kept
            kept = {k: v for k, v in kept.items() if k not in dropped}

    def changes(self, before: Iterable[JoinStatus]) -> list[tuple[str, str]]:
        """Breaking changes (type, description) from the statuses `before` to these."""
        now = {s.link.key: s for s in self.statuses}
        out: list[tuple[str, str]] = []
        for old in before:
            if old.state == OMITTED:
                continue
            new = now.get(old.link.key)
            if new is None or new.state == OMITTED:
                why = new.reason if new is not None else "its link was deleted"
                out.append((JOIN_REMOVED, f"Join {old.link.name} was removed: {why}."))
            elif old.state == ACTIVE and new.state == UNAVAILABLE:
                out.append(
                    (
                        JOIN_TARGET_UNAVAILABLE,
                        f"Join {old.link.name} stays in the schema, but connector "
                        f"{new.link.connector} is not running: the field answers "
                        f"{UNAVAILABLE_CODE}.",
                    )
                )
        return out


def plan_joins(
    links: Iterable[Link],
    served: Mapping[str, Connector],
    known: Mapping[str, Connector],
) -> Joins:
    """The joins of `links` over the `served` connectors; `known` holds the last connector
    served under each name (for targets that stopped)."""
    joins = Joins()
    specs = {name: c.spec for name, c in served.items()}
    seen: set[tuple[str, str]] = set()
    for link in links:
        target = served.get(link.connector)
        typed_by = target or known.get(link.connector)  # the last known when not running
        source = find_type(link.type, specs)
        if source is None:
            joins.statuses.append(
                JoinStatus(link, OMITTED, f"no running connector has type {link.type}")
            )
            continue
        if typed_by is None:
            reason = f"connector {link.connector} is unknown"
            joins.statuses.append(JoinStatus(link, OMITTED, reason))
            continue
        problems = check_link(link, {**specs, link.connector: typed_by.spec}, seen)
        if problems:
            reason = "; ".join(f"{p.path}: {p.message}" for p in problems)
            joins.statuses.append(JoinStatus(link, OMITTED, reason))
            continue
        seen.add(link.key)
        connector_name, parent = source
        if target is None:
            joins.ghosts[link.connector] = typed_by
            joins.statuses.append(
                JoinStatus(link, UNAVAILABLE, f"connector {link.connector} is not running")
            )
        else:
            joins.statuses.append(JoinStatus(link, ACTIVE))
        resolve = Resolve(operation=link.operation, args=raw_args(link, parent))
        spec_type = link.type[len(type_prefix(connector_name)) :]
        maker = _maker(joins, link, resolve, available=target is not None)
        joins.fields.setdefault(connector_name, {}).setdefault(spec_type, {})[link.field] = maker
        joins.targets.setdefault(connector_name, set()).add(link.connector)
        joins.keys[connector_name] = (
            *joins.keys.get(connector_name, ()),
            (link.model_dump_json(), target is not None),
        )
    return joins


def _maker(joins: Joins, link: Link, resolve: Resolve, *, available: bool) -> FieldMaker:
    def make() -> GraphQLField:
        types = joins.types[link.connector]
        made = types.linked_field(resolve, link.description)
        if not available:
            made.resolve = _unavailable(link)
        return made

    return make


def _unavailable(link: Link) -> Callable[..., Any]:
    def resolve(parent: Any, info: GraphQLResolveInfo[Any], **_: Any) -> Any:
        raise ConnectorError(
            f"connector {link.connector} is not running, so {link.name} can't be resolved",
            connector=link.connector,
            operation=link.operation,
            code=UNAVAILABLE_CODE,
        )

    return resolve
