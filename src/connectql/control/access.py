"""Management access: API keys with the roles `admin` and `viewer`.

Keys come from `CONNECTQL_API_KEYS` (`admin:KEY,viewer:KEY2`) and from the registry (stored
as SHA-256 hashes). Comparisons are constant-time. A request without a key gets the
`anonymous` role (default `viewer`: it may query data; `none` refuses it). If no admin key is
configured anywhere, one is generated at start and logged once, so management is never open.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Mapping

from connectql.errors import ConfigError, Forbidden
from connectql.registry.store import hash_key

ADMIN, VIEWER = "admin", "viewer"
ROLES = (ADMIN, VIEWER)
KEYS_ENV = "CONNECTQL_API_KEYS"


def parse_keys(text: str) -> list[tuple[str, str]]:
    """`admin:KEY,viewer:KEY2` → [(role, key)]; raise ConfigError naming the bad entry."""
    pairs = []
    for index, item in enumerate(p.strip() for p in text.split(",") if p.strip()):
        role, sep, key = item.partition(":")
        if not sep or role not in ROLES or len(key) < 16:
            raise ConfigError(
                f"{KEYS_ENV}: entry {index + 1} must look like admin:KEY or viewer:KEY "
                "with a key of at least 16 characters"
            )
        pairs.append((role, key))
    return pairs


class AccessControl:
    def __init__(
        self,
        keys: list[tuple[str, str]] | None = None,
        *,
        anonymous: str | None = VIEWER,
    ) -> None:
        self._keys = [(role, key.encode()) for role, key in keys or []]
        self._hashes: dict[str, str] = {}
        self.anonymous = anonymous
        self.generated_admin_key: str | None = None

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, anonymous: str | None = VIEWER
    ) -> AccessControl:
        environ = os.environ if env is None else env
        return cls(parse_keys(environ.get(KEYS_ENV, "")), anonymous=anonymous)

    def set_stored_hashes(self, hashes: Mapping[str, str]) -> None:
        """Keys kept in the registry: {sha256 hex: role}."""
        self._hashes = dict(hashes)

    def ensure_admin(self) -> str | None:
        """Generate an admin key if none exists; return it (to be shown once) or None."""
        if any(role == ADMIN for role, _ in self._keys) or ADMIN in self._hashes.values():
            return None
        key = "cq_" + secrets.token_urlsafe(32)
        self._keys.append((ADMIN, key.encode()))
        self.generated_admin_key = key
        return key

    def role_for(self, key: str | None) -> str | None:
        """The role of a request; raise Forbidden for a key that matches nothing."""
        if not key:
            return self.anonymous
        given = key.encode()
        found: str | None = None
        for role, known in self._keys:  # every key is compared: timing tells nothing
            if hmac.compare_digest(known, given):
                found = role
        digest = hash_key(key)
        for stored, role in self._hashes.items():
            if hmac.compare_digest(stored, digest):
                found = role
        if found is None:
            raise Forbidden("the API key is not valid")
        return found


def key_from_headers(headers: Mapping[str, str]) -> str | None:
    """`Authorization: Bearer KEY` or `X-API-Key: KEY`."""
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return headers.get("x-api-key") or None


def require_admin(role: str | None) -> None:
    if role != ADMIN:
        raise Forbidden("this needs an admin API key")
