"""Names derived from upstream values: GraphQL enum value names."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[^0-9A-Za-z]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def enum_value_name(raw: str | int) -> str:
    """An upstream enum value as a GraphQL enum name, upper snake case.

    `in-progress` → `IN_PROGRESS`, `inProgress` → `IN_PROGRESS`, `2xx` → `_2XX`,
    `` (empty) → `EMPTY`.
    """
    text = _CAMEL.sub("_", str(raw))
    name = "_".join(p for p in _SEPARATORS.split(text) if p).upper()
    if not name:
        return "EMPTY"
    if name[0].isdigit():
        name = "_" + name
    return name
