"""Opaque Relay cursors: a paginator's page state plus the index of a record in that page.

A cursor is `<page token>.<index>`, the page token being the state as base64url JSON, so a
page's token is encoded once however many edges it has.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from connectql.connectors.pagination import PageState


def page_token(state: PageState) -> str:
    raw = orjson.dumps(state, option=orjson.OPT_SORT_KEYS)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def encode_cursor(token: str, index: int) -> str:
    """The cursor of record `index` in the page whose `page_token` is `token`."""
    return f"{token}.{index}"


def decode_cursor(cursor: str) -> tuple[PageState, int]:
    """Raise ValueError when `cursor` was not made by `encode_cursor`."""
    token, _, index = cursor.rpartition(".")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        state: Any = orjson.loads(raw)
        position = int(index)
    except (binascii.Error, orjson.JSONDecodeError, ValueError) as exc:
        raise ValueError("not a cursor from this API") from exc
    if not isinstance(state, dict) or position < 0 or not index.isdigit():
        raise ValueError("not a cursor from this API")
    return state, position
