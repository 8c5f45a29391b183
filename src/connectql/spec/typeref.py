"""GraphQL type references as written in a spec: `String`, `Int!`, `[Book!]!`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

BUILTIN_SCALARS = frozenset({"String", "Int", "Long", "Float", "Boolean", "ID", "JSON"})
"""`Long`: a 64-bit signed integer (connectql.graph.scalars says how it is written)."""
FILE_INPUT = "FileInput"
"""The built-in input type of a file argument: an upload or base64 bytes."""
BINARY = "Binary"
"""The built-in result type of an operation whose response is bytes (audio, images, zip)."""
FILE_TYPES = frozenset({FILE_INPUT, BINARY})

_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")


@dataclass(frozen=True)
class TypeRef:
    """A parsed type reference: a named type, or a list of one, either possibly non-null."""

    name: str | None
    of: TypeRef | None = None
    non_null: bool = False

    @property
    def is_list(self) -> bool:
        return self.of is not None

    @property
    def base(self) -> str:
        """The named type at the bottom of any list wrapping."""
        ref: TypeRef = self
        while ref.of is not None:
            ref = ref.of
        assert ref.name is not None
        return ref.name

    def __str__(self) -> str:
        inner = f"[{self.of}]" if self.of is not None else str(self.name)
        return inner + ("!" if self.non_null else "")


@lru_cache(maxsize=4096)
def parse_type_ref(text: str) -> TypeRef:
    """Parse `text`; raise ValueError with a readable reason if it is not a type reference.
    Cached: the runtime reads an operation's result type on every call."""
    ref, rest = _parse(text.strip(), text)
    if rest:
        raise ValueError(f"unexpected {rest!r} in type {text!r}")
    return ref


def _parse(s: str, whole: str) -> tuple[TypeRef, str]:
    if s.startswith("["):
        inner, rest = _parse(s[1:].lstrip(), whole)
        rest = rest.lstrip()
        if not rest.startswith("]"):
            raise ValueError(f"missing ']' in type {whole!r}")
        ref = TypeRef(name=None, of=inner)
        rest = rest[1:].lstrip()
    else:
        m = _NAME.match(s)
        if not m:
            raise ValueError(f"{whole!r} is not a GraphQL type (e.g. String, Int!, [Book!]!)")
        ref = TypeRef(name=m.group(0))
        rest = s[m.end() :].lstrip()
    if rest.startswith("!"):
        ref = TypeRef(name=ref.name, of=ref.of, non_null=True)
        rest = rest[1:].lstrip()
    return ref, rest
