"""The static, strawberry-typed part of the schema: what the server knows about connectors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import strawberry
from strawberry.types import Info

from connectql.connectors.connector import Connector


class HasConnectors(Protocol):
    connectors: Mapping[str, Connector]


@strawberry.type(description="A connector served by this server.")
class ConnectorStatus:
    name: str
    title: str | None
    version: str
    state: str
    breaker: str = strawberry.field(description="Circuit breaker: closed, open or half_open.")
    operations: list[str]


def _status(connector: Connector) -> ConnectorStatus:
    return ConnectorStatus(
        name=connector.name,
        title=connector.spec.connector.title,
        version=connector.spec.connector.version,
        state=connector.state,
        breaker=connector.breaker.state if connector.breaker else "closed",
        operations=sorted(connector.spec.operations),
    )


def _connectors(info: Info[HasConnectors, Any]) -> list[ConnectorStatus]:
    return [_status(c) for _, c in sorted(info.context.connectors.items())]


def _connector(info: Info[HasConnectors, Any], name: str) -> ConnectorStatus | None:
    found = info.context.connectors.get(name)
    return _status(found) if found else None


@strawberry.type
class Query:
    connectors: list[ConnectorStatus] = strawberry.field(
        resolver=_connectors, description="Every connector in the live schema."
    )
    connector: ConnectorStatus | None = strawberry.field(
        resolver=_connector, description="One connector by name, or null."
    )
