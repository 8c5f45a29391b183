"""PostgreSQL and Redis for tests, and our server as a separate process.

Tests that need PostgreSQL or Redis use DATABASE_URL / REDIS_URL, else the local defaults
(127.0.0.1:5432, :6379). Without them the tests skip, unless CONNECTQL_REQUIRE_SERVICES=1
(set by .ci/run), which turns a missing service into a failure.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg
import pytest
import redis.asyncio as aioredis
import yaml

ADMIN = "admin-key-for-process-tests-0123456789"
SECRET_KEY = "Y3Fsa2V5LWZvci10ZXN0cy0wMTIzNDU2Nzg5YWJjZGU="  # a Fernet key (32 bytes)
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_DEFAULT = "redis://127.0.0.1:6379/0"


def _unavailable(what: str, exc: BaseException) -> None:
    message = f"{what} is not reachable ({type(exc).__name__}: {exc})"
    if os.environ.get("CONNECTQL_REQUIRE_SERVICES") == "1":
        pytest.fail(message + "; CONNECTQL_REQUIRE_SERVICES=1 requires it")
    pytest.skip(message)


async def fresh_postgres() -> AsyncIterator[str]:
    """A new, empty database for one test; dropped afterwards."""
    admin_url = os.environ.get("DATABASE_URL") or PG_DEFAULT
    name = f"cq_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = await asyncpg.connect(admin_url, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        _unavailable("PostgreSQL", exc)
        raise
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        parts = urlsplit(admin_url)
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def redis_url() -> str:
    url = os.environ.get("REDIS_URL") or REDIS_DEFAULT
    client = aioredis.from_url(url)
    try:
        await client.ping()
    except (OSError, aioredis.RedisError) as exc:
        _unavailable("Redis", exc)
    finally:
        await client.aclose()
    return url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """`connectql serve` in its own process, as an operator would run it."""

    def __init__(self, directory: Path, env: dict[str, str], prefix: str = "connectql:") -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "server": {"graphiql": False},
            "registry": {"channel_prefix": prefix},
            "egress": {"allow": ["127.0.0.1"]},  # the fakes: allowlisted explicitly
        }
        self.config = directory / "connectql.yaml"
        self.config.write_text(yaml.safe_dump(config))
        self.env = {
            **os.environ,
            "CONNECTQL_API_KEYS": f"admin:{ADMIN}",
            "CONNECTQL_SECRET_KEY": SECRET_KEY,
            **env,
        }
        self.log = directory / f"server-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "connectql.cli.main",
                    "serve",
                    "--config",
                    str(self.config),
                    "--port",
                    str(self.port),
                    "--log-level",
                    "warning",
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                if self.process.poll() is not None:
                    raise AssertionError(f"server exited: {self.log.read_text()[-2000:]}")
                try:
                    async with http.get(f"{self.url}/readyz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"server did not become ready: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    async def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                await asyncio.to_thread(self.process.wait, 15)
            except subprocess.TimeoutExpired:
                self.kill()
