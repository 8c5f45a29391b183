"""Where a server keeps what it writes: the SQLite registry, the secrets key, the admin key.

The state directory is `--state-dir`, else `$CONNECTQL_STATE_DIR`, else the config file's
directory (the current directory for the demo) when it is writable, else the user data
directory (`~/.local/share/connectql` on Linux). Nothing is created until something is
written, so a deployment whose registry, secrets key and API keys all come from the
environment writes no file at all; a stateless server writes none by design.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from connectql.errors import ConfigError

STATE_DIR_ENV = "CONNECTQL_STATE_DIR"


class StateDir:
    def __init__(self, path: Path, *, chosen: bool) -> None:
        self.path = path
        self.chosen = chosen
        """Named by the operator (flag or environment), not derived."""
        self._checked = False

    @classmethod
    def resolve(
        cls, option: str | None, beside: Path, env: Mapping[str, str] | None = None
    ) -> StateDir:
        """The operator's choice, else `beside` when writable, else the user data dir."""
        environ = os.environ if env is None else env
        chosen = option or environ.get(STATE_DIR_ENV)
        if chosen:
            return cls(Path(chosen).expanduser(), chosen=True)
        if _writable(beside):
            return cls(beside, chosen=False)
        from platformdirs import user_data_path

        return cls(user_data_path("connectql", appauthor=False), chosen=False)

    def file(self, name: str) -> Path:
        """`name` inside the directory, which is created (0700) if it is missing and must take
        a file (tried once, for real: modes say nothing about a read-only mount)."""
        if not self._checked:
            try:
                self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
                with tempfile.TemporaryFile(dir=self.path):
                    pass
            except OSError as exc:
                raise self._unwritable(exc) from None
            self._checked = True
        return self.path / name

    def _unwritable(self, exc: OSError) -> ConfigError:
        reason = exc.strerror or str(exc)
        return ConfigError(
            f"the state directory {self.path} is not writable ({reason.lower()}); choose "
            f"another with --state-dir or {STATE_DIR_ENV}, or run with --stateless"
        )


def secret_file(path: Path, make: Callable[[], bytes]) -> bytes:
    """The secret in `path`; on first use `make()` one and write it, mode 0600 from the first
    byte (never chmodded afterwards). Two processes starting together agree on one secret."""
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    value = make()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its secret
        return path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as out:
        out.write(value + b"\n")
        out.flush()
        os.fsync(out.fileno())
    return value


def _writable(directory: Path) -> bool:
    """`directory` exists and we may create files in it, or it could be created."""
    probe = directory
    while not probe.exists():
        if probe.parent == probe:
            return False
        probe = probe.parent
    return probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)
