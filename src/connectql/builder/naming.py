"""Readable, stable GraphQL names for imported things, with a lockfile so re-imports keep
every name, and a report of the collisions that forced a suffix."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def words(text: str) -> list[str]:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _WORDS.findall(ascii_text)


def camel(text: str) -> str:
    """`get-repo_by id` → `getRepoById`; a leading digit gets an underscore."""
    parts = words(text)
    if not parts:
        return "_"
    name = parts[0].lower() + "".join(p[:1].upper() + p[1:].lower() for p in parts[1:])
    return f"_{name}" if name[0].isdigit() else name


def pascal(text: str) -> str:
    """`repo-search-result-item` → `RepoSearchResultItem`; always starts with a capital."""
    name = "".join(p[:1].upper() + p[1:] for p in words(text))
    if not name:
        return "Type"
    return f"T{name}" if name[0].isdigit() else name


@dataclass
class Namer:
    """Chooses names within one namespace (types, or one type's fields, …).

    `lock` maps a stable source key (e.g. `schema:#/components/schemas/repo`) to the name
    chosen last time; those names win. New names that collide get a numeric suffix and a
    collision entry.
    """

    lock: Mapping[str, str] = field(default_factory=dict)
    taken: dict[str, str] = field(default_factory=dict)
    """name → source key"""
    chosen: dict[str, str] = field(default_factory=dict)
    """source key → name"""
    collisions: list[tuple[str, str, str]] = field(default_factory=list)
    """(wanted name, its source, the name given instead)"""

    def name(self, key: str, wanted: str, reserved: frozenset[str] = frozenset()) -> str:
        if key in self.chosen:
            return self.chosen[key]
        locked = self.lock.get(key)
        candidate = locked if locked and locked not in self.taken else wanted
        final = candidate
        n = 2
        while final in self.taken or final in reserved:
            final = f"{candidate}{n}"
            n += 1
        if final != candidate:
            self.collisions.append((candidate, key, final))
        self.taken[final] = key
        self.chosen[key] = final
        return final
