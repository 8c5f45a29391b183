"""The README's fenced blocks, by the name of the marker above each.

Every fenced block in README.md has `<!-- readme: NAME -->` on the line above it, and a
test runs it through `block("NAME")`; `tests/readme/test_markers.py` keeps it that way, so a
README edit can't drift from what is tested.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"
_FENCE = re.compile(r"^(?P<indent>[ ]*)```(?P<lang>[\w-]*)\s*$")
_MARKER = re.compile(r"^\s*<!-- readme: (?P<name>[\w.-]+) -->\s*$")


@dataclass(frozen=True)
class Block:
    name: str | None
    lang: str
    text: str
    line: int
    """1-based line of the opening fence."""


@cache
def blocks() -> tuple[Block, ...]:
    lines = README.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent = len(opening["indent"])
        marker = _MARKER.match(lines[i - 1]) if i else None
        end = i + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        body = "\n".join(line[indent:] for line in lines[i + 1 : end]) + "\n"
        found.append(Block(marker["name"] if marker else None, opening["lang"], body, i + 1))
        i = end + 1
    return tuple(found)


def block(name: str) -> str:
    """The text of the README block marked `name` (a test fails if it is gone)."""
    for found in blocks():
        if found.name == name:
            return found.text
    raise AssertionError(f"README.md has no block marked <!-- readme: {name} -->")
