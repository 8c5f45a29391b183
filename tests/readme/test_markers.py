"""Every fenced block of the README is marked and run by a test."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from tests.readme_blocks import blocks

TESTS = Path(__file__).parent.parent


def _names_used_by_tests() -> set[str]:
    used: set[str] = set()
    for file in TESTS.rglob("*.py"):
        used.update(re.findall(r"\bblock\(\s*\"([\w.-]+)\"", file.read_text(encoding="utf-8")))
    return used


def test_every_block_is_marked_once() -> None:
    unmarked = [f"README.md:{b.line} ({b.lang or 'no language'})" for b in blocks() if not b.name]
    assert not unmarked, f"blocks without <!-- readme: NAME -->: {unmarked}"
    twice = [name for name, n in Counter(b.name for b in blocks()).items() if n > 1]
    assert not twice, f"markers used twice: {twice}"


def test_every_marked_block_is_run_by_a_test() -> None:
    untested = sorted({b.name for b in blocks() if b.name} - _names_used_by_tests())
    assert not untested, f"README blocks no test runs: {untested}"
