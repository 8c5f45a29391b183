"""Schema migrations, applied in order on start, all pending ones in one transaction.

Add a migration by appending a function to MIGRATIONS; never edit one that has shipped.
Replicas starting together on PostgreSQL serialise on an advisory lock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import Connection, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from connectql.registry import tables

LOCK_ID = 0x636F6E6E  # "conn"


def _v1_initial(conn: Connection) -> None:
    tables.metadata.create_all(
        conn,
        tables=[tables.connectors, tables.connector_versions, tables.api_keys],
    )


def _v2_change_counts(conn: Connection) -> None:
    """A write counter per scope: replicas compare it with what they serve (see store.py)."""
    tables.metadata.create_all(conn, tables=[tables.change_counts])
    conn.execute(
        tables.change_counts.insert(),
        [{"scope": "connectors", "changes": 0}, {"scope": "api_keys", "changes": 0}],
    )


def _v3_links(conn: Connection) -> None:
    """Joins between connectors, with their own write counter."""
    tables.metadata.create_all(conn, tables=[tables.links])
    conn.execute(tables.change_counts.insert(), [{"scope": "links", "changes": 0}])


MIGRATIONS: list[Callable[[Connection], None]] = [_v1_initial, _v2_change_counts, _v3_links]


async def migrate(engine: AsyncEngine) -> int:
    """Apply pending migrations; return the schema version now in place."""
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text(f"SELECT pg_advisory_xact_lock({LOCK_ID})"))
        await conn.run_sync(
            lambda c: tables.metadata.create_all(c, tables=[tables.schema_migrations])
        )
        rows = await conn.execute(select(tables.schema_migrations.c.version))
        done = {row[0] for row in rows}
        for version, step in enumerate(MIGRATIONS, start=1):
            if version in done:
                continue
            await conn.run_sync(step)
            await conn.execute(
                tables.schema_migrations.insert().values(
                    version=version, applied_at=dt.datetime.now(dt.UTC)
                )
            )
    return len(MIGRATIONS)
