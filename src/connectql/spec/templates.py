"""The restricted template language of specs: `{args.owner}`, `{config.token}`, `{parent.id}`.

A template is text with placeholders `{namespace.path}`; `{{` and `}}` are literal braces.
The path after the namespace uses the `from` path language. A template that is exactly one
placeholder renders to the value itself (a number stays a number, a list stays a list);
otherwise values are converted to text. Nothing is ever evaluated as code.

A template is parsed once (`parse_template` caches) and rendered by a function compiled from
its parts (`Template.render`); `compile_value` does the same for a nested value rendered on
every call, such as a request body.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from connectql.spec.paths import Path, parse_path

NAMESPACES = frozenset({"args", "config", "parent", "keys", "key", "env", "request"})
"""`env` is allowed in connectql.yaml only; specs read the environment through `config`.
`key` (one key) only in a batch's `each`.
`request` (`{request.headers.NAME}`, a caller's header) only in a connector's source and
request templates, for the names its `source.forward_headers` lists."""

Renderer = Callable[[Mapping[str, Any]], Any]
"""A compiled template: the rendered value for a scope (namespace → data)."""

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


@dataclass(frozen=True)
class Placeholder:
    namespace: str
    path: Path

    @property
    def text(self) -> str:
        return f"{{{self.namespace}{'.' + self.path.text if self.path.steps else ''}}}"

    @cached_property
    def get(self) -> Renderer:
        """The value this placeholder names in a scope (None when any step is missing)."""
        namespace, get = self.namespace, self.path.get
        return lambda scope: get(scope.get(namespace))


@dataclass(frozen=True)
class Template:
    source: str
    parts: tuple[str | Placeholder, ...]

    @property
    def placeholders(self) -> Iterator[Placeholder]:
        return (p for p in self.parts if isinstance(p, Placeholder))

    @property
    def is_literal(self) -> bool:
        return not any(isinstance(p, Placeholder) for p in self.parts)

    @cached_property
    def render(self) -> Renderer:
        """Fill the placeholders from a scope (namespace → data): a lone placeholder gives its
        raw value; in mixed text each value is converted by `to_text`."""
        parts = self.parts
        if len(parts) == 1 and isinstance(parts[0], Placeholder):
            return parts[0].get
        if self.is_literal:
            text = "".join(p for p in parts if isinstance(p, str))
            return lambda scope: text
        pieces = tuple(p if isinstance(p, str) else p.get for p in parts)

        def mixed(scope: Mapping[str, Any]) -> str:
            return "".join([p if isinstance(p, str) else to_text(p(scope)) for p in pieces])

        return mixed


@lru_cache(maxsize=8192)
def parse_template(source: str) -> Template:
    """Parse `source`; raise ValueError naming the bad placeholder."""
    parts: list[str | Placeholder] = []
    literal: list[str] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(source):
        literal.append(source[pos : m.start()])
        pos = m.end()
        token = m.group(0)
        if token in ("{{", "}}"):
            literal.append(token[0])
            continue
        if m.group(1) is None:
            raise ValueError(f"unmatched {token!r} in {source!r} (write {token * 2} for a brace)")
        body = m.group(1).strip()
        namespace, _, rest = body.partition(".")
        if namespace not in NAMESPACES:
            raise ValueError(
                f"unknown placeholder {{{body}}} in {source!r}: "
                f"it must start with one of {', '.join(sorted(NAMESPACES))}"
            )
        if "".join(literal):
            parts.append("".join(literal))
        literal = []
        parts.append(Placeholder(namespace, parse_path(rest)))
    literal.append(source[pos:])
    if "".join(literal):
        parts.append("".join(literal))
    return Template(source, tuple(parts))


def template_strings(value: Any) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every string inside a nested value, with its relative location."""
    if isinstance(value, str):
        yield (), value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            for loc, s in template_strings(v):
                yield (k, *loc), s
    elif isinstance(value, list):
        for i, v in enumerate(value):
            for loc, s in template_strings(v):
                yield (i, *loc), s


def render_value(value: Any, scope: Mapping[str, Any]) -> Any:
    """Render every template string inside a nested value (dicts, lists, strings), once;
    `compile_value` for a value rendered again and again."""
    if isinstance(value, str):
        return parse_template(value).render(scope) if "{" in value or "}" in value else value
    if isinstance(value, Mapping):
        return {k: render_value(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, scope) for v in value]
    return value


def compile_value(value: Any) -> Renderer:
    """`render_value` of `value` as a function of the scope, its templates parsed now."""
    if isinstance(value, str):
        if "{" in value or "}" in value:
            return parse_template(value).render
        return lambda scope: value
    if isinstance(value, Mapping):
        items = tuple((k, compile_value(v)) for k, v in value.items())
        return lambda scope: {k: render(scope) for k, render in items}
    if isinstance(value, list):
        renders = tuple(compile_value(v) for v in value)
        return lambda scope: [render(scope) for render in renders]
    return lambda scope: value


def is_literal_value(value: Any) -> bool:
    """Whether a nested value holds no placeholder: it renders the same in every scope."""
    return all(parse_template(text).is_literal for _, text in template_strings(value))


def placeholder_arg(placeholder: Placeholder | None) -> str | None:
    """The argument a placeholder names as a whole (`{args.x}` → `x`), else None."""
    if placeholder is None or placeholder.namespace != "args":
        return None
    steps = placeholder.path.steps
    return steps[0] if len(steps) == 1 and isinstance(steps[0], str) else None


def lone_placeholder(value: Any) -> Placeholder | None:
    """The placeholder a template consists of alone (`"{args.x}"`), else None."""
    if not isinstance(value, str) or not value.startswith("{"):
        return None
    parts = parse_template(value).parts
    return parts[0] if len(parts) == 1 and isinstance(parts[0], Placeholder) else None


def to_text(value: Any, join: str = ",") -> str:
    """A rendered value as text: booleans lower-case, lists joined, None empty."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return join.join([v if isinstance(v, str) else to_text(v, join) for v in value])
    if value is None:
        return ""
    return str(value)
