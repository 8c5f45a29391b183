"""OpenAPI parameter serialization: `style` and `explode` for query, path and header values.

The rules are OpenAPI 3.1's (its "Style Examples" table) and RFC 6570's, with
`allowReserved: false`. Query parameters come out as decoded (name, value) pairs, as every
other part of the runtime (auth, paginators, the recorder) handles them; the HTTP layer
percent-encodes each name and value but for the unreserved characters and `,`, so a style's
delimiters travel as the table shows them (`,`, `%20`, `%7C`, `%5B…%5D`). Path values come
out percent-encoded: each piece of data is encoded on its own, the style's delimiters are not.

What the table leaves open: a null, an empty list or an empty object is left out of the
query (RFC 6570's "undefined"); `spaceDelimited` and `pipeDelimited` with explode, and
`deepObject` with a list, repeat the name like `form`; a primitive is `name=value` in every
query style; `deepObject` nests (`filter[a][b]=1`); null members of lists and objects are
dropped; a list or object inside a list or object is written as compact JSON.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import orjson

_DELIMITERS = {"form": ",", "spaceDelimited": " ", "pipeDelimited": "|"}


def explode_default(style: str) -> bool:
    """OpenAPI's default: `form` explodes, every other style does not."""
    return style == "form"


def query_pairs(
    name: str, value: Any, style: str = "form", explode: bool | None = None
) -> list[tuple[str, str]]:
    """The (name, value) pairs of one query parameter, not yet percent-encoded."""
    explode = explode_default(style) if explode is None else explode
    if isinstance(value, dict):
        members = _members(value)
        if not members:
            return []
        if style == "deepObject":
            return _deep(name, members)
        if explode:
            return [(key, _text(item)) for key, item in members]
        delimiter = _DELIMITERS[style]
        return [(name, delimiter.join(_flat(members)))]
    if isinstance(value, list):
        items = [_text(item) for item in value if item is not None]
        if not items:
            return []
        if explode or style == "deepObject":
            return [(name, item) for item in items]
        return [(name, _DELIMITERS[style].join(items))]
    return [] if value is None else [(name, _text(value))]


def path_text(name: str, value: Any, style: str = "simple", explode: bool | None = None) -> str:
    """One path parameter, percent-encoded: `blue,black`, `.blue.black`, `;color=blue`."""
    if style == "simple" and not isinstance(value, (dict, list)):  # the common case: an id
        return "" if value is None else _encode(_text(value))
    explode = explode_default(style) if explode is None else explode
    named = _encode(name)
    lead = {"simple": "", "label": ".", "matrix": ";"}[style]
    if isinstance(value, dict):
        pairs = [(_encode(key), _encode(_text(item))) for key, item in _members(value)]
        if pairs and explode:
            joined = [f"{key}={item}" for key, item in pairs]
            return ",".join(joined) if style == "simple" else "".join(lead + j for j in joined)
        items = [part for pair in pairs for part in pair]
    elif isinstance(value, list):
        items = [_encode(_text(item)) for item in value if item is not None]
        if items and explode and style == "label":
            return "".join("." + item for item in items)
        if items and explode and style == "matrix":
            return "".join(f";{named}={item}" for item in items)
    else:
        items = [] if value is None else [_encode(_text(value))]
    flat = ",".join(items)
    if style == "matrix":
        return f";{named}={flat}" if flat else f";{named}"
    return lead + flat


def header_text(value: Any, explode: bool = False) -> str | None:
    """A header value in `simple` style (no percent-encoding); None leaves the header out."""
    if isinstance(value, dict):
        members = _members(value)
        if explode:
            return ",".join(f"{key}={_text(item)}" for key, item in members) or None
        return ",".join(_flat(members)) or None
    if isinstance(value, list):
        return ",".join(_text(item) for item in value if item is not None) or None
    return None if value is None else _text(value)


def _members(value: dict[Any, Any]) -> list[tuple[str, Any]]:
    return [(str(key), item) for key, item in value.items() if item is not None]


def _flat(members: Iterable[tuple[str, Any]]) -> list[str]:
    return [part for key, item in members for part in (key, _text(item))]


def _deep(prefix: str, members: list[tuple[str, Any]]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, item in members:
        name = f"{prefix}[{key}]"
        if isinstance(item, dict):
            pairs.extend(_deep(name, _members(item)))
        elif isinstance(item, list):
            pairs.extend((name, _text(one)) for one in item if one is not None)
        else:
            pairs.append((name, _text(item)))
    return pairs


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return str(value)


def _encode(text: str) -> str:
    """RFC 3986 percent-encoding of data: everything but the unreserved characters."""
    return quote(text, safe="")


def encode_query(pairs: Iterable[tuple[str, str]]) -> str:
    """A query string from decoded pairs: names and values percent-encoded but for the
    unreserved characters and `,` (the `form` style's delimiter), spaces as `%20`."""
    return "&".join(f"{quote(name, safe=',')}={quote(value, safe=',')}" for name, value in pairs)
