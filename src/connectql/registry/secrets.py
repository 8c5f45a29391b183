"""Secrets at rest: config values marked `secret: true` are stored encrypted with Fernet.

The key comes from `CONNECTQL_SECRET_KEY` (a Fernet key: 32 url-safe base64 bytes), or from a
key file created on first run with mode 0600. Losing the key makes stored secrets unreadable;
the connectors then need `configureConnector` again.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken

from connectql.errors import ConfigError

KEY_ENV = "CONNECTQL_SECRET_KEY"


class SecretBox:
    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError):
            raise ConfigError(
                f"{KEY_ENV} is not a Fernet key (32 url-safe base64-encoded bytes); make one "
                'with: python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"'
            ) from None

    @classmethod
    def from_env_or_file(cls, key_file: Path, env: dict[str, str] | None = None) -> SecretBox:
        environ = os.environ if env is None else env
        if environ.get(KEY_ENV):
            return cls(environ[KEY_ENV].encode())
        return cls(_key_file(key_file))

    def seal(self, values: dict[str, Any]) -> bytes:
        return self._fernet.encrypt(orjson.dumps(values))

    def open(self, token: bytes) -> dict[str, Any]:
        try:
            values: dict[str, Any] = orjson.loads(self._fernet.decrypt(token))
        except InvalidToken:
            raise ConfigError(
                "stored secrets cannot be decrypted with this key (was "
                f"{KEY_ENV} or the key file changed?)"
            ) from None
        return values


def _key_file(path: Path) -> bytes:
    """Read the key file, creating it (mode 0600, never overwritten) on first run."""
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its key
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as out:
        out.write(key)
        out.flush()
        os.fsync(out.fileno())
    return key
