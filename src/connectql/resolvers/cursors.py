"""Opaque, tamper-proof Relay cursors: a paginator's page state and the index of a record in
that page, sealed with AES-GCM under a server key and bound to the connector, operation and
arguments they were issued for.

Authenticated, because page state steers a request made with the connector's credentials: an
edited, forged, truncated or borrowed cursor is refused, never followed. Encrypted, because
the state of `link_header`/`next_url` pagination is the URL the upstream gave, and such URLs
can carry credentials (Facebook's `paging.next` holds the access token).

The key is derived from the deployment's secrets key (`CONNECTQL_SECRET_KEY`, or the key file
in the state directory under `connectql serve`), so cursors survive restarts and replicas
sharing that key accept each other's; a runtime without one (stateless) draws a random key per
process, and its cursors stop working when it restarts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from connectql.connectors.pagination import PageState

KEY_ENV = "CONNECTQL_SECRET_KEY"
_NONCE = 12
_CONTEXT = b"connectql relay cursor v1"


def cursor_scope(connector: str, operation: str, args: Mapping[str, Any]) -> bytes:
    """What a cursor is bound to: a cursor of one list is not valid for any other."""
    return orjson.dumps(
        [connector, operation, args],
        option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS,
        default=str,
    )


class Cursors:
    def __init__(self, key: bytes | None = None) -> None:
        self._aead = AESGCM(key if key is not None else AESGCM.generate_key(bit_length=256))

    @classmethod
    def from_secret(cls, secret: bytes) -> Cursors:
        """Keyed by a key derived from `secret` (never the secret itself)."""
        return cls(hmac.new(secret, _CONTEXT, hashlib.sha256).digest())

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Cursors:
        """Keyed by CONNECTQL_SECRET_KEY (shared by replicas) if set, else a random key."""
        secret = (os.environ if environ is None else environ).get(KEY_ENV)
        return cls.from_secret(secret.encode()) if secret else cls()

    def page(self, scope: bytes, state: PageState) -> Callable[[int], str]:
        """The cursor maker of one page: record index → cursor (the state encoded once)."""
        raw = orjson.dumps(state, option=orjson.OPT_SORT_KEYS)

        def cursor(index: int) -> str:
            nonce = os.urandom(_NONCE)
            sealed = self._aead.encrypt(nonce, b"%d." % index + raw, scope)
            return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

        return cursor

    def decode(self, scope: bytes, cursor: str) -> tuple[PageState, int]:
        """The page state and index of `cursor`; ValueError if this server did not issue it
        for `scope`."""
        try:
            raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
            plain = self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], scope)
            index, _, state = plain.partition(b".")
            position, value = int(index), orjson.loads(state)
        except (binascii.Error, ValueError, InvalidTag) as exc:
            raise ValueError("not a cursor from this API") from exc
        if not isinstance(value, dict) or position < 0:
            raise ValueError("not a cursor from this API")
        return value, position


class Edges(Sequence[dict[str, Any]]):
    """A page's Relay edges, `{"cursor": …, "node": …}`, made when first read: most queries
    select `nodes` alone, and sealing a cursor (AES-GCM, a fresh nonce) was the largest cost
    of building a page. The first and last edges carry the page info's start and end cursors,
    also sealed when first read.
    """

    __slots__ = ("_end", "_made", "_picked", "_start")

    def __init__(self, picked: list[tuple[Any, Callable[[int], str], int]]) -> None:
        """`picked`: (record, its page's cursor maker, its index in that page), in order."""
        self._picked = picked
        self._made: list[dict[str, Any]] | None = None
        self._start: str | None = None
        self._end: str | None = None

    @property
    def start(self) -> str | None:
        if self._start is None and self._picked:
            self._start = self._seal(0)
        return self._start

    @property
    def end(self) -> str | None:
        if len(self._picked) < 2:
            return self.start
        if self._end is None:
            self._end = self._seal(len(self._picked) - 1)
        return self._end

    def _seal(self, position: int) -> str:
        _, cursor, index = self._picked[position]
        return cursor(index)

    def _edges(self) -> list[dict[str, Any]]:
        if self._made is None:
            last = len(self._picked) - 1
            self._made = [
                {
                    "cursor": self.start if i == 0 else self.end if i == last else self._seal(i),
                    "node": record,
                }
                for i, (record, _, _) in enumerate(self._picked)
            ]
        return self._made

    def __len__(self) -> int:
        return len(self._picked)

    def __getitem__(self, index: Any) -> Any:
        return self._edges()[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._edges())


class PageInfo(Mapping[str, Any]):
    """A connection's `pageInfo`, its cursors sealed only when a query reads them."""

    __slots__ = ("_edges", "_flags")

    def __init__(self, edges: Edges, has_next: bool, has_previous: bool) -> None:
        self._edges = edges
        self._flags = {"hasNextPage": has_next, "hasPreviousPage": has_previous}

    def __getitem__(self, key: str) -> Any:
        if key == "startCursor":
            return self._edges.start
        if key == "endCursor":
            return self._edges.end
        return self._flags[key]

    def __iter__(self) -> Iterator[str]:
        return iter(("hasNextPage", "hasPreviousPage", "startCursor", "endCursor"))

    def __len__(self) -> int:
        return 4
