"""Resolver functions for connector fields: root operations, links and Relay connections."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLFieldResolver, GraphQLResolveInfo

from connectql.connectors.connector import Connector
from connectql.errors import ConnectorError
from connectql.resolvers.cursors import decode_cursor, encode_cursor
from connectql.resolvers.loaders import Loaders
from connectql.spec.models import Resolve
from connectql.spec.templates import render_value
from connectql.spec.typeref import parse_type_ref

Info = GraphQLResolveInfo[Any]


@dataclass
class RequestContext:
    """The GraphQL context of one request (HTTP or WebSocket operation)."""

    request: Any = None
    response: Any = None
    connectors: Mapping[str, Connector] = field(default_factory=dict)
    loaders: Loaders = field(default_factory=Loaders)


def _loaders(info: Info) -> Loaders:
    context = info.context
    loaders = getattr(context, "loaders", None)
    if loaders is None and isinstance(context, dict):
        loaders = context.setdefault("loaders", Loaders())
    assert isinstance(loaders, Loaders), "the GraphQL context carries no Loaders"
    return loaders


def _bad_input(connector: Connector, op_name: str, message: str) -> ConnectorError:
    return ConnectorError(
        message, connector=connector.name, operation=op_name, code="BAD_USER_INPUT"
    )


class ConnectorResolvers:
    """The `ResolverFactory` the schema builder uses for every connector."""

    def namespace(self, connector: Connector) -> GraphQLFieldResolver:
        def resolve(parent: Any, info: Info) -> Connector:
            return connector

        return resolve

    def operation(self, connector: Connector, op_name: str) -> GraphQLFieldResolver:
        op = connector.operation(op_name)
        if op.kind == "mutation":

            async def mutate(parent: Any, info: Info, **args: Any) -> Any:
                return await connector.execute(op_name, args)

            return mutate

        async def query(parent: Any, info: Info, **args: Any) -> Any:
            return await _loaders(info).load(connector, op_name, args)

        return query

    def link(self, connector: Connector, link: Resolve) -> GraphQLFieldResolver:
        target = connector.operation(link.operation)
        required = {
            name
            for name, arg in target.args.items()
            if parse_type_ref(arg.type).non_null and arg.default is None
        }
        returns_list = parse_type_ref(target.response.type).is_list

        async def resolve(parent: Any, info: Info) -> Any:
            args = render_value(link.args, {"parent": parent, "config": connector.config})
            if any(args.get(name) in (None, "") for name in required):
                return [] if returns_list else None  # nothing to link to
            return await _loaders(info).load(connector, link.operation, args)

        return resolve

    def connection(
        self, connector: Connector, op_name: str, link: Resolve | None
    ) -> GraphQLFieldResolver:
        op = connector.operation(op_name)
        pagination = op.pagination
        paginator = connector.paginator(op_name)
        assert paginator is not None
        assert pagination is not None
        page_size: int = getattr(pagination, "page_size", 30)
        max_items: int = getattr(pagination, "max_items", 1000)

        async def resolve(
            parent: Any,
            info: Info,
            first: int | None = None,
            after: str | None = None,
            **args: Any,
        ) -> dict[str, Any]:
            if link is not None:
                linked = render_value(link.args, {"parent": parent, "config": connector.config})
                args = {**linked, **args}
            wanted = page_size if first is None else first
            if wanted < 0 or wanted > max_items:
                raise _bad_input(
                    connector, op_name, f"first must be between 0 and {max_items}, got {wanted}"
                )
            if after:
                try:
                    state, skip = decode_cursor(after)
                except ValueError:
                    raise _bad_input(connector, op_name, "after is not a valid cursor") from None
                skip += 1
            else:
                state, skip = paginator.first(wanted), 0
            edges: list[dict[str, Any]] = []
            has_next = False
            while len(edges) < wanted:
                page = await connector.fetch_page(op_name, args, state, wanted - len(edges) + skip)
                for index in range(skip, len(page.records)):
                    if len(edges) == wanted:
                        has_next = True
                        break
                    edges.append(
                        {"cursor": encode_cursor(state, index), "node": page.records[index]}
                    )
                if has_next or page.next_state is None:
                    break
                if len(edges) == wanted:
                    has_next = True
                    break
                state, skip = page.next_state, 0
            return {
                "edges": edges,
                "nodes": [e["node"] for e in edges],
                "pageInfo": {
                    "hasNextPage": has_next,
                    "hasPreviousPage": bool(after),
                    "startCursor": edges[0]["cursor"] if edges else None,
                    "endCursor": edges[-1]["cursor"] if edges else None,
                },
            }

        return resolve
