"""Short-lived download links for binary results: `/_connectql/files/{token}`.

A `Binary` result's `url` puts its bytes here, in memory, for `ttl` seconds, and gives out a
token: a random id and its expiry, signed (HMAC-SHA256). A forged or altered token fails its
signature before anything is looked up; an expired one is refused even while its bytes are
still held. The store holds at most `max_bytes`: the oldest entries go first. The link is a
capability, like a presigned URL: whoever holds it may fetch the bytes until it expires.
Each process keeps its own store (and key), so a link is served by the replica that made it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from collections import OrderedDict
from dataclasses import dataclass

from connectql.connectors.clock import Clock, SystemClock
from connectql.connectors.files import BinaryBody

PATH_PREFIX = "/_connectql/files/"
_ID_BYTES = 16
_MAC_BYTES = 32


class DownloadRefused(Exception):
    """A token that gives nothing: `status` is 404 (unknown, forged) or 410 (expired)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class _Entry:
    expires: float
    body: BinaryBody


class DownloadStore:
    def __init__(
        self,
        *,
        ttl: float = 300.0,
        max_bytes: int = 256 * 1024 * 1024,
        clock: Clock | None = None,
        key: bytes | None = None,
    ) -> None:
        self.ttl = ttl
        self.max_bytes = max_bytes
        self.clock: Clock = clock or SystemClock()
        self._key = key or secrets.token_bytes(32)
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self.held = 0
        """Bytes held now."""

    def put(self, body: BinaryBody) -> str:
        """Keep `body` for `ttl` seconds; return its token. ValueError if it can never fit."""
        if body.size > self.max_bytes:
            raise ValueError(
                f"the file ({body.size:,} bytes) is larger than the download store "
                f"({self.max_bytes:,} bytes, limits.max_download_bytes)"
            )
        now = self.clock.time()
        self._drop_expired(now)
        while self.held + body.size > self.max_bytes:
            _, oldest = self._entries.popitem(last=False)
            self.held -= oldest.body.size
        ident = secrets.token_bytes(_ID_BYTES)
        expires = now + self.ttl
        self._entries[ident] = _Entry(expires, body)
        self.held += body.size
        payload = ident + struct.pack(">d", expires)
        return _b64(payload + self._mac(payload))

    def get(self, token: str) -> BinaryBody:
        """The bytes behind `token`; DownloadRefused if it is forged, expired or evicted."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (ValueError, TypeError):
            raise DownloadRefused(404, "no such download") from None
        if len(raw) != _ID_BYTES + 8 + _MAC_BYTES:
            raise DownloadRefused(404, "no such download")
        payload, mac = raw[: _ID_BYTES + 8], raw[_ID_BYTES + 8 :]
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise DownloadRefused(404, "no such download")
        (expires,) = struct.unpack(">d", payload[_ID_BYTES:])
        now = self.clock.time()
        self._drop_expired(now)
        if now >= expires:
            raise DownloadRefused(410, "the download link has expired")
        entry = self._entries.get(payload[:_ID_BYTES])
        if entry is None:
            raise DownloadRefused(410, "the download is no longer held (the store was full)")
        return entry.body

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()

    def _drop_expired(self, now: float) -> None:
        # entries are added in expiry order (one ttl), so the expired ones are at the front
        while self._entries:
            ident, entry = next(iter(self._entries.items()))
            if entry.expires > now:
                break
            del self._entries[ident]
            self.held -= entry.body.size


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
