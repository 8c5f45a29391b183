"""PostgreSQL and Redis for tests, and our server as a separate process.

Tests that need PostgreSQL or Redis use DATABASE_URL / REDIS_URL, else the local defaults
(127.0.0.1:5432, :6379). Without them the tests skip, unless CONNECTQL_REQUIRE_SERVICES=1
(set by .ci/run), which turns a missing service into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import redis.asyncio as aioredis
import yaml

from tests.processes import ServeProcess

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


class ServerProcess(ServeProcess):
    """`connectql serve` with a registry in `directory` (or DATABASE_URL in `env`), an admin
    key, and the fakes on 127.0.0.1 allowlisted. Register it with the `processes` fixture so
    it is stopped even when the test fails."""

    def __init__(
        self,
        directory: Path,
        env: dict[str, str],
        prefix: str = "connectql:",
        *,
        port: int | None = None,
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        config = {
            "server": {"graphiql": False},
            "registry": {"channel_prefix": prefix},
            "egress": {"allow": ["127.0.0.1"]},  # the fakes: allowlisted explicitly
        }
        (directory / "connectql.yaml").write_text(yaml.safe_dump(config))
        env = {"CONNECTQL_API_KEYS": f"admin:{ADMIN}", "CONNECTQL_SECRET_KEY": SECRET_KEY, **env}
        super().__init__(
            directory, "--config", "connectql.yaml", "--log-level", "warning", env=env, port=port
        )
