"""Readable, stable GraphQL names for imported things, with a lockfile so re-imports keep
every name, and a report of the collisions that forced a suffix."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_TITLE_WORDS = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?")
_STOP_WORDS = frozenset(
    {
        *("a", "an", "the", "my", "our", "for", "of", "and"),
        *("api", "apis", "rest", "restful", "http", "json", "web", "openapi", "swagger"),
        *("spec", "specification", "description", "official"),
    }
)
"""Title words that never name an API on their own."""
_GENERIC_HOST_LABELS = frozenset(
    {"api", "apis", "rest", "www", "example", "localhost", "com", "co", "org", "net"}
)
_VERSION = re.compile(r"^v?\d+$")


def words(text: str) -> list[str]:
    return _WORDS.findall(_ascii(text))


def short_name(title: str, url: str = "") -> str:
    """A short lower_snake connector name for an API: the title's first meaningful word
    (`GitHub's official OpenAPI spec` → `github`), else the server's host
    (`https://api.github.com` → `github`), else `imported`."""
    text = _ascii(title.replace("\u2019", "'"))
    for token in _TITLE_WORDS.findall(text):
        word = re.sub(r"'s?$", "", token, flags=re.IGNORECASE).lower()
        if word not in _STOP_WORDS and not _VERSION.match(word):
            return connector_name(word)
    host = urlsplit(url).hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        labels = [x for x in host.split(".")[:-1] if x not in _GENERIC_HOST_LABELS]
        if labels:
            return connector_name(labels[-1])
    return "imported"


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def camel(text: str) -> str:
    """`get-repo_by id` → `getRepoById`; a leading digit gets an underscore."""
    parts = words(text)
    if not parts:
        return "_"
    name = parts[0].lower() + "".join(p[:1].upper() + p[1:].lower() for p in parts[1:])
    return f"_{name}" if name[0].isdigit() else name


def connector_name(title: str) -> str:
    """`Weather API` → `weather_api`: lower_snake, at most 40 characters, a leading digit
    prefixed with `api_`; empty when the title has no letters or digits."""
    name = "_".join(w.lower() for w in words(title))[:40].strip("_")
    return name if not name or name[0].isalpha() else f"api_{name}"[:40]


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
