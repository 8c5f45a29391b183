"""The installed `connectql` executable, run in subprocesses as users run it.

Every wait here is bounded, and every process started through the `processes` fixture
(tests/conftest.py) is stopped when the test ends, whether it passed or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import aiohttp

EXECUTABLE = Path(sys.executable).parent / "connectql"
START_TIMEOUT = 60.0
"""Seconds a server may take to become ready: generous, for a machine with both cores busy."""


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test runner's environment without connectql's own variables, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CONNECTQL_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env["PYTHONUNBUFFERED"] = "1"
    return {**env, **(extra or {})}


def run_cli(
    *args: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 120.0,
    input: str | None = None,
    wrapper: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """Run `connectql ARGS` to completion (bounded by `timeout`)."""
    assert EXECUTABLE.exists(), f"{EXECUTABLE} is missing: install the project (pip install -e .)"
    return subprocess.run(
        [*wrapper, str(EXECUTABLE), *args],
        cwd=cwd,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        check=False,
    )


def read_only(*directories: Path) -> list[str]:
    """A wrapper command under which `directories` are read-only, as a volume mounted `:ro`
    is in a container. Root ignores file modes, so root gets a private read-only bind mount;
    anyone else gets the directories' write bits removed."""
    if os.geteuid() != 0:
        for directory in directories:
            directory.chmod(0o555)
        return []
    mounts = " && ".join(
        f'mount --bind -o ro "${i}" "${i}"' for i in range(1, len(directories) + 1)
    )
    return [
        "unshare",
        "--mount",
        "sh",
        "-c",
        f'{mounts} && shift {len(directories)} && exec "$@"',
        "sh",
        *map(str, directories),
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServeProcess:
    """`connectql serve ARGS` in its own process group, its output in a log file."""

    def __init__(
        self,
        cwd: Path,
        *args: str,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        wrapper: Sequence[str] = (),
    ) -> None:
        self.cwd = cwd
        self.wrapper = list(wrapper)
        """A command that runs the server (`unshare …`), e.g. to mount a directory read-only."""
        cwd.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [*args, "--port", str(self.port)]
        self.env = clean_env(env)
        self.log = cwd / f"serve-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def spawn(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*self.wrapper, str(EXECUTABLE), "serve", *self.args],
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def start(self, timeout: float = START_TIMEOUT) -> ServeProcess:
        """Spawn and wait until /readyz answers 200 (bounded by `timeout`)."""
        self.spawn()
        await self.wait_ready(timeout)
        return self

    async def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        client_timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=client_timeout) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    code = self.process.returncode
                    raise AssertionError(f"connectql serve exited ({code}):\n{self.output[-3000:]}")
                with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                    async with http.get(f"{self.url}/readyz") as resp:
                        if resp.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise AssertionError(f"not ready after {timeout:.0f} s:\n{self.output[-3000:]}")

    def kill(self) -> None:
        """SIGKILL to the whole process group: no shutdown code runs."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)

    def terminate(self, timeout: float = 20.0) -> int | None:
        """SIGINT (a clean shutdown), then SIGKILL after `timeout`; the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode

    async def stop(self, timeout: float = 20.0) -> int | None:
        return await asyncio.to_thread(self.terminate, timeout)


class Processes:
    """What a test started; the fixture stops them all at teardown."""

    def __init__(self) -> None:
        self.started: list[ServeProcess] = []

    def serve(
        self,
        cwd: Path,
        *args: str,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        wrapper: Sequence[str] = (),
    ) -> ServeProcess:
        return self.adopt(ServeProcess(cwd, *args, env=env, port=port, wrapper=wrapper))

    def adopt(self, process: ServeProcess) -> ServeProcess:
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.started:
            process.terminate()
