"""Management access: API keys with the roles `admin` and `viewer`.

Keys come from `CONNECTQL_API_KEYS` (`admin:KEY,viewer:KEY2`) and from the registry (stored
as SHA-256 hashes). Comparisons are constant-time. A request without a key gets the
`anonymous` role (default `viewer`: it may query data; `none` refuses it). If no admin key is
configured anywhere, the server generates one into its state directory (see `admin_key`), so
management is never open.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from connectql.errors import ConfigError, Forbidden
from connectql.registry.store import hash_key
from connectql.state import secret_file

ADMIN, VIEWER = "admin", "viewer"
ROLES = (ADMIN, VIEWER)
KEYS_ENV = "CONNECTQL_API_KEYS"
MIN_KEY_LENGTH = 16


def parse_keys(text: str) -> list[tuple[str, str]]:
    """`admin:KEY,viewer:KEY2` → [(role, key)]; raise ConfigError naming the bad entry."""
    pairs = []
    for index, item in enumerate(p.strip() for p in text.split(",") if p.strip()):
        role, sep, key = item.partition(":")
        if not sep or role not in ROLES or len(key) < MIN_KEY_LENGTH:
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

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, anonymous: str | None = VIEWER
    ) -> AccessControl:
        environ = os.environ if env is None else env
        return cls(parse_keys(environ.get(KEYS_ENV, "")), anonymous=anonymous)

    def set_stored_hashes(self, hashes: Mapping[str, str]) -> None:
        """Keys kept in the registry: {sha256 hex: role}."""
        self._hashes = dict(hashes)

    @property
    def has_admin(self) -> bool:
        return any(role == ADMIN for role, _ in self._keys) or ADMIN in self._hashes.values()

    def add_key(self, role: str, key: str) -> None:
        self._keys.append((role, key.encode()))

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
    """`X-API-Key: KEY`, else `Authorization: Bearer KEY`."""
    source = key_header(headers)
    if source == "x-api-key":
        return headers.get("x-api-key") or None
    if source == "authorization":
        return headers.get("authorization", "")[7:].strip() or None
    return None


def key_header(headers: Mapping[str, str]) -> str | None:
    """The header that carries the caller's connectql key: `x-api-key` when sent, so that
    `Authorization` can carry a credential forwarded upstream (`source.forward_headers`);
    else `authorization` when it is `Bearer …`; else None. That header is never forwarded."""
    if headers.get("x-api-key"):
        return "x-api-key"
    if headers.get("authorization", "").lower().startswith("bearer "):
        return "authorization"
    return None


def require_admin(role: str | None) -> None:
    if role != ADMIN:
        raise Forbidden("this needs an admin API key")


def admin_key(file: Path) -> tuple[str, bool]:
    """The admin key kept in `file`, generated (0600) on first use; and whether it was new."""
    existed = file.exists()
    key = secret_file(file, lambda: ("cq_" + secrets.token_urlsafe(32)).encode()).decode()
    if len(key) < MIN_KEY_LENGTH:
        raise ConfigError(f"{file} holds no usable API key (16+ characters); delete it to renew")
    return key, not existed
