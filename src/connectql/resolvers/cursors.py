"""Opaque Relay cursors: a paginator's page state plus the index of a record in that page."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from connectql.connectors.pagination import PageState


def encode_cursor(state: PageState, index: int) -> str:
    raw = orjson.dumps({"s": state, "i": index}, option=orjson.OPT_SORT_KEYS)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[PageState, int]:
    """Raise ValueError when `cursor` was not made by `encode_cursor`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data: Any = orjson.loads(raw)
    except (binascii.Error, orjson.JSONDecodeError, ValueError) as exc:
        raise ValueError("not a cursor from this API") from exc
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("s"), dict)
        or not isinstance(data.get("i"), int)
        or data["i"] < 0
    ):
        raise ValueError("not a cursor from this API")
    return data["s"], data["i"]
