"""Where each loaded spec came from: its file and the lines of its operations.

A problem found after loading (two connectors' root fields clash when the schema is built)
is still reported at its place in the spec. The record lives beside the spec, not in it: a
spec's equality is its content, wherever it was read from. Entries go with their spec.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass

from connectql.errors import SpecLocation
from connectql.spec.models import ConnectorSpec

Loc = tuple[str | int, ...]
Mark = tuple[int, int]


@dataclass(frozen=True)
class Origin:
    file: str
    marks: dict[Loc, Mark]
    """Lines and columns of the spec's top sections and their entries."""


_origins: dict[int, Origin] = {}


def remember(spec: ConnectorSpec, file: str, mark_of: Callable[[Loc], Mark | None]) -> None:
    """Keep where `spec` was read (`mark_of` gives the position of a spec path)."""
    locs: list[Loc] = [("connector",), ("connector", "namespace"), ("operations",)]
    locs += [("operations", name) for name in spec.operations]
    marks = {loc: mark for loc in locs if (mark := mark_of(loc)) is not None}
    key = id(spec)
    _origins[key] = Origin(file, marks)
    weakref.finalize(spec, _origins.pop, key, None)


def locate(spec: ConnectorSpec, loc: Loc) -> SpecLocation:
    """The location of `loc` in `spec`'s file (`<connector NAME>` when it was not read from
    one), at the line of `loc` or of its nearest recorded parent."""
    path = ".".join(str(part) for part in loc)
    origin = _origins.get(id(spec))
    if origin is None:
        return SpecLocation(f"<connector {spec.name}>", None, None, path)
    for end in range(len(loc), 0, -1):
        mark = origin.marks.get(loc[:end])
        if mark is not None:
            return SpecLocation(origin.file, mark[0], mark[1], path)
    return SpecLocation(origin.file, None, None, path)
