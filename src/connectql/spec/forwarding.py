"""Caller headers in a spec: `source.forward_headers` and the `{request.headers.NAME}` they allow.

A connector lists the request headers it may read (`forward_headers: [x-github-token]`); its
`source.headers`, `source.auth`, `source.auth_schemes` and operation requests may then read
them as `{request.headers.x-github-token}` (names case-insensitive). Any other use of the
`request` namespace is an error with its location: nowhere else does a caller's header reach.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectql.spec.models import ConnectorSpec
from connectql.spec.templates import Placeholder, parse_template, template_strings

Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]

CONNECTQL_KEY_HEADER = "x-api-key"
"""Carries the caller's connectql API key, which must never travel upstream."""
PER_CALL_SOURCE = ("headers", "auth", "auth_schemes")
"""The parts of `source` rendered for each call, which may therefore read caller headers."""


def request_header(placeholder: Placeholder) -> str | None:
    """The header a `{request.headers.NAME}` placeholder reads (lower case), else None."""
    steps = placeholder.path.steps
    if placeholder.namespace != "request" or len(steps) != 2 or steps[0] != "headers":
        return None
    return steps[1].lower() if isinstance(steps[1], str) else None


def forwarded_names(spec: ConnectorSpec) -> frozenset[str]:
    """The allowlist, lower case."""
    return frozenset(name.lower() for name in spec.source.forward_headers)


def headers_read(value: Any) -> frozenset[str]:
    """Every caller header the templates inside `value` read (lower case)."""
    names: set[str] = set()
    for _, text in template_strings(value):
        try:
            template = parse_template(text)
        except ValueError:
            continue
        names.update(h for p in template.placeholders if (h := request_header(p)) is not None)
    return frozenset(names)


def check_forwarding(spec: ConnectorSpec) -> Iterator[Problem]:
    """Every problem with `forward_headers` and with the `request` namespace in `spec`."""
    allowed = forwarded_names(spec)
    seen: set[str] = set()
    for i, name in enumerate(spec.source.forward_headers):
        loc: Loc = ("source", "forward_headers", i)
        if name.lower() == CONNECTQL_KEY_HEADER:
            yield (
                loc,
                (
                    "x-api-key carries the caller's connectql API key and is never forwarded; "
                    "have callers send the upstream's key in a header of its own (x-upstream-key)"
                ),
            )
        elif name.lower() in seen:
            yield loc, f"{name} is listed twice (header names are case-insensitive)"
        seen.add(name.lower())
    source = spec.source.model_dump(by_alias=True, exclude_defaults=True)
    for key, value in source.items():
        where: Loc = ("source", key)
        if key in PER_CALL_SOURCE:
            yield from _requests(where, value, allowed)
        else:
            yield from _refused(where, value, f"source.{key} is rendered once per connector")
    for name, op in spec.operations.items():
        request = op.request.model_dump(exclude_defaults=True)
        yield from _requests(("operations", name, "request"), request, allowed)
        if op.batch is not None and op.batch.request is not None:
            batch = op.batch.request.model_dump(exclude_defaults=True)
            yield from _requests(("operations", name, "batch", "request"), batch, allowed)
    for key, decl in spec.config.items():
        if isinstance(decl.default, str):
            why = "a config default is a value, not a template"
            yield from _refused(("config", key, "default"), decl.default, why)
    for i, test in enumerate(spec.tests):
        why = "a fixture test has no caller; give its arguments as values"
        yield from _refused(("tests", i, "args"), test.args, why)


def _placeholders(base: Loc, value: Any) -> Iterator[tuple[Loc, Placeholder]]:
    for rel, text in template_strings(value):
        try:
            template = parse_template(text)
        except ValueError:
            continue  # reported by the template checks
        for placeholder in template.placeholders:
            if placeholder.namespace == "request":
                yield (*base, *rel), placeholder


def _requests(base: Loc, value: Any, allowed: frozenset[str]) -> Iterator[Problem]:
    """Templates that may read caller headers: only `{request.headers.NAME}`, NAME listed."""
    for loc, placeholder in _placeholders(base, value):
        name = request_header(placeholder)
        if name is None:
            yield (
                loc,
                (
                    f"{placeholder.text} is not a caller header: write {{request.headers.NAME}} "
                    "with NAME listed in source.forward_headers"
                ),
            )
        elif name not in allowed:
            listed = ", ".join(sorted(allowed)) or "none listed"
            yield (
                loc,
                (
                    f"{placeholder.text} reads a header source.forward_headers does not list "
                    f"({listed})"
                ),
            )


def _refused(base: Loc, value: Any, why: str) -> Iterator[Problem]:
    for loc, placeholder in _placeholders(base, value):
        yield (
            loc,
            (
                f"{placeholder.text} is not available here ({why}); caller headers are read only "
                "by source.headers, source.auth and operation requests"
            ),
        )
