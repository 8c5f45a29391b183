"""The registry: connectors created at run time, their spec versions, config and state.

Every write is one transaction, so a process killed mid-write leaves either the whole change
or none of it. Secret config values are sealed by a SecretBox before they reach the database.
Every write also counts itself in `change_counts`, in the same transaction: replicas compare
that count with what they serve, so a change whose event was lost (Redis away) still arrives.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets as token_source
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from connectql.errors import ConfigError, Conflict, ControlError, NotFound
from connectql.registry import tables
from connectql.registry.migrations import migrate
from connectql.registry.secrets import SecretBox

RUNNING, STOPPED = "running", "stopped"
CONNECTORS, API_KEYS = "connectors", "api_keys"
LINKS = "links"
"""The scopes of `change_counts`."""


@dataclass(frozen=True)
class StoredConnector:
    id: str
    name: str
    desired_state: str
    version: int
    spec_text: str
    spec_format: str
    config: dict[str, Any]
    """Every config value, secrets decrypted: for the runtime only, never for output."""
    secret_keys: frozenset[str]
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class StoredKey:
    """An API key kept in the registry; the key itself is never stored."""

    id: str
    name: str
    role: str
    prefix: str | None
    """The key's first characters, known only when it was just created."""
    created_at: dt.datetime


@dataclass(frozen=True)
class StoredLink:
    """A join between connectors kept in the registry (see connectql.graph.joins.Link)."""

    type: str
    field: str
    connector: str
    operation: str
    args: dict[str, Any]
    description: str | None
    created_at: dt.datetime


@dataclass(frozen=True)
class Changes:
    """How many writes each scope of the registry has had."""

    connectors: int
    api_keys: int
    links: int = 0


@dataclass(frozen=True)
class StoredVersion:
    version: int
    spec_format: str
    spec_text: str
    created_at: dt.datetime


def database_url(url: str | None, default_file: Path | Callable[[], Path]) -> str:
    """An async SQLAlchemy URL: `postgresql://` → asyncpg; none → SQLite at `default_file`
    (a path, or a function giving one only when it is needed)."""
    if not url:
        path = default_file if isinstance(default_file, Path) else default_file()
        return f"sqlite+aiosqlite:///{path}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def hash_key(key: str) -> str:
    """How API keys are stored and compared: never in clear."""
    return hashlib.sha256(key.encode()).hexdigest()


class Registry:
    def __init__(self, url: str, box: SecretBox) -> None:
        self.url = url
        self._box = box
        self.engine: AsyncEngine = self._create_engine(url)

    @staticmethod
    def _create_engine(url: str) -> AsyncEngine:
        if url.startswith("sqlite"):
            engine = create_async_engine(url, connect_args={"timeout": 30})

            @event.listens_for(engine.sync_engine, "connect")
            def _pragmas(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=FULL")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.close()

            return engine
        return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)

    async def start(self) -> None:
        try:
            await migrate(self.engine)
        except OSError as exc:
            raise ConfigError(f"cannot open the registry database: {exc}") from None

    async def close(self) -> None:
        await self.engine.dispose()

    # --- reads --------------------------------------------------------------------------

    async def all(self) -> list[StoredConnector]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(self._current().order_by(tables.connectors.c.name))
            return [self._stored(row) for row in rows]

    async def get(self, name: str) -> StoredConnector:
        async with self.engine.connect() as conn:
            return await self._get(conn, name)

    async def versions(self, name: str) -> list[StoredVersion]:
        v = tables.connector_versions
        async with self.engine.connect() as conn:
            stored = await self._get(conn, name)
            rows = await conn.execute(
                select(v.c.version, v.c.spec_format, v.c.spec_text, v.c.created_at)
                .where(v.c.connector_id == stored.id)
                .order_by(v.c.version)
            )
            return [StoredVersion(*row) for row in rows]

    async def changes(self) -> Changes:
        """The write counts: one small query, cheap enough to run every few seconds."""
        t = tables.change_counts
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(t.c.scope, t.c.changes))
            counts = {row.scope: row.changes for row in rows}
        return Changes(
            connectors=counts[CONNECTORS], api_keys=counts[API_KEYS], links=counts.get(LINKS, 0)
        )

    # --- writes (one transaction each) --------------------------------------------------------

    async def create(
        self,
        name: str,
        spec_text: str,
        spec_format: str,
        config: Mapping[str, Any],
        secret_keys: frozenset[str],
        desired_state: str = RUNNING,
    ) -> StoredConnector:
        plain, sealed = self._split(config, secret_keys)
        now = _now()
        ident = uuid.uuid4().hex
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    tables.connectors.insert().values(
                        id=ident,
                        name=name,
                        desired_state=desired_state,
                        current_version=1,
                        config=plain,
                        secrets=sealed,
                        created_at=now,
                        updated_at=now,
                    )
                )
                await conn.execute(
                    tables.connector_versions.insert().values(
                        connector_id=ident,
                        version=1,
                        spec_format=spec_format,
                        spec_text=spec_text,
                        created_at=now,
                    )
                )
                await self._count(conn, CONNECTORS)
                return await self._get(conn, name)
        except IntegrityError:
            raise Conflict(f"a connector named {name!r} already exists") from None

    async def add_version(
        self,
        name: str,
        spec_text: str,
        spec_format: str,
        config: Mapping[str, Any],
        secret_keys: frozenset[str],
    ) -> StoredConnector:
        """Store a new spec version and make it current (config re-split for its secrets)."""
        v = tables.connector_versions
        async with self.engine.begin() as conn:
            stored = await self._get(conn, name, for_update=True)
            _keep_sealed(stored, config, secret_keys, "the new spec")
            latest = await conn.scalar(
                select(func.max(v.c.version)).where(v.c.connector_id == stored.id)
            )
            version = int(latest or 0) + 1
            now = _now()
            await conn.execute(
                v.insert().values(
                    connector_id=stored.id,
                    version=version,
                    spec_format=spec_format,
                    spec_text=spec_text,
                    created_at=now,
                )
            )
            plain, sealed = self._split(config, secret_keys)
            await conn.execute(
                tables.connectors.update()
                .where(tables.connectors.c.id == stored.id)
                .values(current_version=version, config=plain, secrets=sealed, updated_at=now)
            )
            await self._count(conn, CONNECTORS)
            return await self._get(conn, name)

    async def set_version(
        self, name: str, version: int, secret_keys: frozenset[str]
    ) -> StoredConnector:
        """Make an earlier (or later) stored version current: a rollback. The config is kept
        as it is, so every sealed key must be secret in that version (`secret_keys`)."""
        v = tables.connector_versions
        async with self.engine.begin() as conn:
            stored = await self._get(conn, name, for_update=True)
            _keep_sealed(stored, stored.config, secret_keys, f"version {version}")
            exists = await conn.scalar(
                select(v.c.version).where(v.c.connector_id == stored.id, v.c.version == version)
            )
            if exists is None:
                raise NotFound(f"connector {name!r} has no version {version}")
            await conn.execute(
                tables.connectors.update()
                .where(tables.connectors.c.id == stored.id)
                .values(current_version=version, updated_at=_now())
            )
            await self._count(conn, CONNECTORS)
            return await self._get(conn, name)

    async def configure(
        self, name: str, config: Mapping[str, Any], secret_keys: frozenset[str]
    ) -> StoredConnector:
        plain, sealed = self._split(config, secret_keys)
        async with self.engine.begin() as conn:
            stored = await self._get(conn, name, for_update=True)
            _keep_sealed(stored, config, secret_keys, "its spec")
            await conn.execute(
                tables.connectors.update()
                .where(tables.connectors.c.id == stored.id)
                .values(config=plain, secrets=sealed, updated_at=_now())
            )
            await self._count(conn, CONNECTORS)
            return await self._get(conn, name)

    async def set_desired_state(self, name: str, state: str) -> StoredConnector:
        async with self.engine.begin() as conn:
            stored = await self._get(conn, name, for_update=True)
            await conn.execute(
                tables.connectors.update()
                .where(tables.connectors.c.id == stored.id)
                .values(desired_state=state, updated_at=_now())
            )
            await self._count(conn, CONNECTORS)
            return await self._get(conn, name)

    async def delete(self, name: str) -> None:
        async with self.engine.begin() as conn:
            stored = await self._get(conn, name, for_update=True)
            await conn.execute(
                tables.connector_versions.delete().where(
                    tables.connector_versions.c.connector_id == stored.id
                )
            )
            await conn.execute(
                tables.connectors.delete().where(tables.connectors.c.id == stored.id)
            )
            await self._count(conn, CONNECTORS)

    # --- links ---------------------------------------------------------------------------

    async def links(self) -> list[StoredLink]:
        """Every stored link, oldest first."""
        t = tables.links.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(
                    t.type, t.field, t.connector, t.operation, t.args, t.description, t.created_at
                ).order_by(t.created_at, t.type, t.field)
            )
            return [
                StoredLink(
                    row.type,
                    row.field,
                    row.connector,
                    row.operation,
                    orjson.loads(row.args),
                    row.description,
                    _aware(row.created_at),
                )
                for row in rows
            ]

    async def create_link(
        self,
        type: str,
        field: str,
        connector: str,
        operation: str,
        args: Mapping[str, Any],
        description: str | None,
    ) -> StoredLink:
        now = _now()
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    tables.links.insert().values(
                        id=uuid.uuid4().hex,
                        type=type,
                        field=field,
                        connector=connector,
                        operation=operation,
                        args=orjson.dumps(dict(args), option=orjson.OPT_SORT_KEYS).decode(),
                        description=description,
                        created_at=now,
                    )
                )
                await self._count(conn, LINKS)
        except IntegrityError:
            raise Conflict(f"a link {type}.{field} already exists") from None
        return StoredLink(type, field, connector, operation, dict(args), description, now)

    async def delete_link(self, type: str, field: str) -> None:
        t = tables.links.c
        async with self.engine.begin() as conn:
            done = await conn.execute(
                tables.links.delete().where((t.type == type) & (t.field == field))
            )
            if done.rowcount == 0:
                raise NotFound(f"no link {type}.{field} in the registry")
            await self._count(conn, LINKS)

    # --- API keys ------------------------------------------------------------------------

    async def create_api_key(self, name: str, role: str) -> tuple[StoredKey, str]:
        """Store a new key's hash; return it and the key (shown once, never stored in clear)."""
        key = "cq_" + token_source.token_urlsafe(32)
        stored = StoredKey(uuid.uuid4().hex, name, role, key[:7], _now())
        async with self.engine.begin() as conn:
            taken = await conn.execute(
                select(tables.api_keys.c.id).where(tables.api_keys.c.name == name)
            )
            if taken.first() is not None:
                raise Conflict(f"an API key named {name!r} exists; revoke it first")
            await conn.execute(
                tables.api_keys.insert().values(
                    id=stored.id,
                    name=name,
                    role=role,
                    key_hash=hash_key(key),
                    created_at=stored.created_at,
                )
            )
            await self._count(conn, API_KEYS)
        return stored, key

    async def api_keys(self) -> list[StoredKey]:
        """Every stored key (never the key itself), oldest first."""
        k = tables.api_keys.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(k.id, k.name, k.role, k.key_hash, k.created_at).order_by(k.created_at)
            )
            return [
                StoredKey(row.id, row.name, row.role, None, _aware(row.created_at))
                for row in rows.all()
            ]

    async def revoke_api_key(self, name: str) -> None:
        """Delete the key named `name` (or with that id)."""
        k = tables.api_keys.c
        async with self.engine.begin() as conn:
            done = await conn.execute(
                tables.api_keys.delete().where((k.name == name) | (k.id == name))
            )
            if done.rowcount == 0:
                raise NotFound(f"no API key named {name!r}")
            await self._count(conn, API_KEYS)

    async def api_key_hashes(self) -> dict[str, str]:
        """{sha256 hex of key: role}."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(tables.api_keys.c.key_hash, tables.api_keys.c.role))
            return {row[0]: row[1] for row in rows.all()}

    # --- helpers -------------------------------------------------------------------------

    @staticmethod
    async def _count(conn: AsyncConnection, scope: str) -> None:
        """Count a write, in its transaction. Called last: PostgreSQL keeps the counter's row
        locked until the commit, so every write locks in the same order, briefly."""
        t = tables.change_counts
        await conn.execute(update(t).where(t.c.scope == scope).values(changes=t.c.changes + 1))

    def _split(self, config: Mapping[str, Any], secret_keys: frozenset[str]) -> tuple[str, bytes]:
        plain = {k: v for k, v in config.items() if k not in secret_keys}
        hidden = {k: v for k, v in config.items() if k in secret_keys}
        return orjson.dumps(plain, option=orjson.OPT_SORT_KEYS).decode(), self._box.seal(hidden)

    @staticmethod
    def _current() -> Any:
        c, v = tables.connectors, tables.connector_versions
        return select(
            c.c.id,
            c.c.name,
            c.c.desired_state,
            c.c.current_version,
            v.c.spec_text,
            v.c.spec_format,
            c.c.config,
            c.c.secrets,
            c.c.created_at,
            c.c.updated_at,
        ).join(v, (v.c.connector_id == c.c.id) & (v.c.version == c.c.current_version))

    async def _get(
        self, conn: AsyncConnection, name: str, *, for_update: bool = False
    ) -> StoredConnector:
        query = self._current().where(tables.connectors.c.name == name)
        if for_update and self.engine.dialect.name == "postgresql":
            query = query.with_for_update(of=tables.connectors)
        row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound(f"no connector named {name!r}")
        return self._stored(row)

    def _stored(self, row: Any) -> StoredConnector:
        hidden = self._box.open(row.secrets)
        config = {**orjson.loads(row.config), **hidden}
        return StoredConnector(
            id=row.id,
            name=row.name,
            desired_state=row.desired_state,
            version=row.current_version,
            spec_text=row.spec_text,
            spec_format=row.spec_format,
            config=config,
            secret_keys=frozenset(hidden),
            created_at=_aware(row.created_at),
            updated_at=_aware(row.updated_at),
        )


def _keep_sealed(
    stored: StoredConnector, config: Mapping[str, Any], secret_keys: frozenset[str], spec: str
) -> None:
    """A value once sealed is never stored, nor shown, in clear: refuse to keep a sealed
    value in `config` when `spec` no longer marks its key secret. (Keeping it sealed anyway
    would not do: the runtime, outputs and logs follow the spec.) A new value, or none, is
    the caller's explicit choice."""
    exposed = sorted(
        key
        for key in stored.secret_keys - secret_keys
        if key in config and config[key] == stored.config.get(key)
    )
    if exposed:
        keys = ", ".join(exposed)
        raise ControlError(
            f"config key(s) {keys} of connector {stored.name!r} hold a secret, and {spec} does "
            "not mark them `secret: true`: the value would be kept in clear. Keep `secret: "
            f"true`, or replace or remove the value (set {keys} to null with "
            "configureConnector first)"
        )


def _aware(value: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
