"""The persistent registry of connectors created at run time (SQLite or PostgreSQL)."""

from connectql.registry.secrets import SecretBox
from connectql.registry.store import (
    RUNNING,
    STOPPED,
    Registry,
    StoredConnector,
    StoredKey,
    StoredLink,
    StoredVersion,
    database_url,
)

__all__ = [
    "RUNNING",
    "STOPPED",
    "Registry",
    "SecretBox",
    "StoredConnector",
    "StoredKey",
    "StoredLink",
    "StoredVersion",
    "database_url",
]
