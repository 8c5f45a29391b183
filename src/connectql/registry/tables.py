"""The registry's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)

connectors = Table(
    "connectors",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("desired_state", String(16), nullable=False),
    Column("current_version", Integer, nullable=False),
    Column("config", Text, nullable=False, comment="non-secret config values as JSON"),
    Column("secrets", LargeBinary, nullable=False, comment="secret values, JSON, Fernet"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

connector_versions = Table(
    "connector_versions",
    metadata,
    Column(
        "connector_id",
        String(32),
        ForeignKey("connectors.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("version", Integer, primary_key=True),
    Column("spec_format", String(8), nullable=False),
    Column("spec_text", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("key_hash"),
)

change_counts = Table(
    "change_counts",
    metadata,
    Column("scope", String(32), primary_key=True, comment="connectors or api_keys"),
    Column("changes", BigInteger, nullable=False, comment="writes so far (see store.py)"),
)

links = Table(
    "links",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("type", String(128), nullable=False, comment="the GraphQL type the field is on"),
    Column("field", String(128), nullable=False),
    Column("connector", String(64), nullable=False, comment="the target connector"),
    Column("operation", String(128), nullable=False),
    Column("args", Text, nullable=False, comment="the operation's arguments as JSON"),
    Column("description", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("type", "field"),
)
"""Joins between connectors created at run time (graph/joins.py)."""
