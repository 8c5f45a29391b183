"""npm for the suite's pinned Node packages (the OpenAPI corpus, the federation gateway):
one install at a time across processes, a failure raised as the caller's own exception."""

from __future__ import annotations

import contextlib
import fcntl
import subprocess
from collections.abc import Iterator
from pathlib import Path

NPM_TIMEOUT = 600.0


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created): pytest-xdist workers and CI steps share
    the caches these packages live in."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def npm(*args: str, cwd: Path, unavailable: type[Exception]) -> str:
    """Run npm in `cwd`; its stdout. Any failure is `unavailable` with npm's last words."""
    try:
        done = subprocess.run(
            ["npm", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT,
            check=True,
        )
    except subprocess.CalledProcessError as exc:
        raise unavailable(f"npm {' '.join(args)}: {exc.stderr.strip()[-800:]}") from exc
    except (OSError, subprocess.SubprocessError) as exc:
        raise unavailable(f"npm {' '.join(args)}: {exc}") from exc
    return done.stdout
