"""The README's architecture block is the package's real layering: every name it lists
exists, and no module of a layer imports a module of a layer listed above it."""

from __future__ import annotations

import re

from tests.readme_blocks import block
from tests.test_import_graph import ROOT, import_graph

_NAME = re.compile(r"^[a-z_]+(/|\.py)$")
COLUMN = 22
"""Where the block's descriptions start."""


def layers() -> list[list[str]]:
    """Module-name prefixes per layer, top first, from the block's first column."""
    found: list[list[str]] = []
    for line in block("architecture").splitlines():
        names = []
        for word in line[:COLUMN].split():
            if _NAME.match(word):
                names.append("connectql." + word.removesuffix("/").removesuffix(".py"))
        if names:
            found.append(names)
    return found


def _layer_of(module: str, table: list[list[str]]) -> int | None:
    for index, names in enumerate(table):
        if any(module == name or module.startswith(name + ".") for name in names):
            return index
    return None


def test_every_listed_name_exists() -> None:
    table = layers()
    assert len(table) >= 6
    for names in table:
        for name in names:
            path = ROOT.parent / name.replace(".", "/")
            assert path.is_dir() or path.with_suffix(".py").is_file(), name


def test_no_layer_imports_one_above_it() -> None:
    table = layers()
    upward = []
    for module, targets in import_graph().items():
        mine = _layer_of(module, table)
        if mine is None:
            continue
        for target in targets:
            theirs = _layer_of(target, table)
            if theirs is not None and theirs < mine:
                upward.append(f"{module} -> {target}")
    assert upward == []
