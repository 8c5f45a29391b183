"""The `from` path language: `user.login`, `items[0].id`, `labels[*].name`, `.` for the whole.

A path is a dot-separated list of keys, each optionally followed by `[N]` (an index, negative
counts from the end) or `[*]` (every element). A key holding `.`, brackets, braces or spaces
is written quoted, as a JSON string in brackets: `["a.b"]`, `meta["x-rate limit"].n`. A
missing key or index gives None; a `[*]` over a non-list gives None. Nothing is ever
evaluated as code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_KEY = re.compile(r"[^.\[\]{}\s]+")
_INDEX = re.compile(r"\[(\*|-?\d+)\]")
_QUOTED = re.compile(r'\["((?:[^"\\]|\\.)*)"\]')

WILDCARD = "*"


@dataclass(frozen=True)
class Path:
    """A parsed path: a tuple of steps, each a key (str), an index (int) or WILDCARD."""

    text: str
    steps: tuple[str | int, ...]
    key: str | None = field(init=False, repr=False, compare=False)
    """The one key a path of a single key step selects (`id`), else None."""

    def __post_init__(self) -> None:
        steps = self.steps
        one = len(steps) == 1 and isinstance(steps[0], str) and steps[0] != WILDCARD
        object.__setattr__(self, "key", steps[0] if one else None)

    @property
    def has_wildcard(self) -> bool:
        return WILDCARD in self.steps

    def get(self, data: Any) -> Any:
        """The value at this path in `data`, or None when any step is missing."""
        if self.key is not None and isinstance(data, dict):  # most paths: one lookup
            return data.get(self.key)
        return _walk(data, self.steps)


def parse_path(text: str) -> Path:
    """Parse `text`; raise ValueError saying where it is malformed."""
    text = text.strip()
    if text in ("", "."):
        return Path(text, ())
    steps: list[str | int] = []
    pos = 0
    while pos < len(text):
        if steps and text[pos] == ".":
            pos += 1
        m = _KEY.match(text, pos)
        if m:
            steps.append(m.group(0))
            pos = m.end()
        elif not (text[pos] == "[" and steps == [] and pos == 0):
            raise ValueError(f"bad path {text!r}: expected a key at position {pos + 1}")
        while pos < len(text) and text[pos] == "[":
            quoted = _QUOTED.match(text, pos)
            if quoted:
                steps.append(_quoted_key(text, quoted.group(1), pos))
                pos = quoted.end()
                continue
            im = _INDEX.match(text, pos)
            if not im:
                raise ValueError(
                    f'bad path {text!r}: expected [N], [*] or ["key"] at position {pos + 1}'
                )
            index = im.group(1)
            steps.append(WILDCARD if index == "*" else int(index))
            pos = im.end()
        if pos < len(text) and text[pos] != ".":
            raise ValueError(f"bad path {text!r}: unexpected {text[pos]!r} at position {pos + 1}")
        if pos < len(text) and pos == len(text) - 1:
            raise ValueError(f"bad path {text!r}: ends with '.'")
    return Path(text, tuple(steps))


def _quoted_key(text: str, body: str, pos: int) -> str:
    try:
        key = json.loads(f'"{body}"')
    except ValueError:
        raise ValueError(
            f"bad path {text!r}: a bad escape in the key at position {pos + 1}"
        ) from None
    if key == WILDCARD:
        raise ValueError(
            f'bad path {text!r}: ["*"] at position {pos + 1}; write [*] for every element'
        )
    return str(key)


def key_path(key: str) -> str:
    """The path of one key: the key itself, or `["…"]` when the plain form cannot hold it.
    ValueError for `*`, which always means the wildcard."""
    if key == WILDCARD:
        raise ValueError("a key named '*' cannot be selected: [*] is the wildcard")
    if _KEY.fullmatch(key):
        return key
    return "[" + json.dumps(key, ensure_ascii=False) + "]"


def single_key(text: str) -> str | None:
    """The key a path of exactly one key step selects (`id`, `["a.b"]`), else None."""
    try:
        steps = parse_path(text).steps
    except ValueError:
        return None
    return (
        steps[0] if len(steps) == 1 and isinstance(steps[0], str) and steps[0] != WILDCARD else None
    )


def _walk(data: Any, steps: tuple[str | int, ...]) -> Any:
    for i, step in enumerate(steps):
        if data is None:
            return None
        if step == WILDCARD:
            if not isinstance(data, list):
                return None
            rest = steps[i + 1 :]
            out: list[Any] = []
            for item in data:
                value = _walk(item, rest)
                if WILDCARD in rest and isinstance(value, list):
                    out.extend(value)
                else:
                    out.append(value)
            return out
        if isinstance(step, int):
            if not isinstance(data, list) or not -len(data) <= step < len(data):
                return None
            data = data[step]
        elif isinstance(data, dict) or isinstance(data, Mapping):  # noqa: SIM101
            # os.environ and other Mappings: the dict check first keeps the common case fast
            data = data.get(step)
        else:
            return None
    return data
