"""Where each key and item of a YAML text starts, for errors that name a line and column."""

from __future__ import annotations

from typing import Any

import yaml

Loc = tuple[str | int, ...]
Mark = tuple[int, int]
"""1-based line and column."""


def yaml_marks(text: str) -> dict[Loc, Mark]:
    """The mark of every mapping key and list item of `text` (already checked by
    `check_text`), by its path: `("links", 0, "operation")` → (14, 7)."""
    marks: dict[Loc, Mark] = {}
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return marks
    if node is not None:
        _walk(node, (), marks)
    return marks


def _walk(node: Any, loc: Loc, marks: dict[Loc, Mark]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                here = (*loc, key.value)
                marks[here] = (key.start_mark.line + 1, key.start_mark.column + 1)
                _walk(value, here, marks)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            here = (*loc, index)
            marks[here] = (item.start_mark.line + 1, item.start_mark.column + 1)
            _walk(item, here, marks)
