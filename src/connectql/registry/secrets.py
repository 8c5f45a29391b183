"""Secrets at rest: config values marked `secret: true` are stored encrypted with Fernet.

The key comes from `CONNECTQL_SECRET_KEY` (a Fernet key: 32 url-safe base64 bytes), or from a
key file created on first run with mode 0600. Losing the key makes stored secrets unreadable;
the connectors then need `configureConnector` again.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken

from connectql.errors import ConfigError
from connectql.state import secret_file

KEY_ENV = "CONNECTQL_SECRET_KEY"


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self.key = key
        """The deployment's secret: other keys (Relay cursors') are derived from it."""
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError):
            raise ConfigError(
                f"{KEY_ENV} is not a Fernet key (32 url-safe base64-encoded bytes); make one "
                'with: python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"'
            ) from None

    @classmethod
    def from_env_or_file(
        cls, key_file: Path | Callable[[], Path], env: Mapping[str, str] | None = None
    ) -> SecretBox:
        """The key in CONNECTQL_SECRET_KEY, else in `key_file` (a path, or a function giving
        one only when it is needed), created 0600 on first use."""
        environ = os.environ if env is None else env
        if environ.get(KEY_ENV):
            return cls(environ[KEY_ENV].encode())
        path = key_file if isinstance(key_file, Path) else key_file()
        return cls(secret_file(path, Fernet.generate_key))

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
