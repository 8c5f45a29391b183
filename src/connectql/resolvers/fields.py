"""Resolver functions for connector fields: root operations, links and Relay connections."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLFieldResolver,
    GraphQLResolveInfo,
    InlineFragmentNode,
    SelectionSetNode,
)

from connectql.connectors.callers import Caller
from connectql.connectors.connector import Connector
from connectql.connectors.record_selector import compiled_path
from connectql.errors import ConnectorError, Forbidden
from connectql.resolvers.cursors import Cursors, Edges, PageInfo, cursor_scope
from connectql.resolvers.entities import Entity, EntityResolvers, entity_resolvers
from connectql.resolvers.files import Files, file_args
from connectql.resolvers.loaders import PENDING, Loaders, args_key, request_loaders
from connectql.spec.models import ObjectType, Resolve
from connectql.spec.paths import Path as SpecPath
from connectql.spec.templates import Placeholder, parse_template, render_value
from connectql.spec.typeref import parse_type_ref

Info = GraphQLResolveInfo[Any]


@dataclass
class RequestContext:
    """The GraphQL context of one request (HTTP or WebSocket operation)."""

    request: Any = None
    response: Any = None
    connectors: Mapping[str, Connector] = field(default_factory=dict)
    loaders: Loaders = field(default_factory=Loaders)
    control: Any = None
    """The server's ControlPlane (None when running a bare Runtime)."""
    role: str | None = None
    """The caller's role from its API key: admin, viewer, or None (anonymous refused)."""
    connection_params: dict[str, Any] | None = None
    """The WebSocket `connection_init` payload (set by strawberry)."""
    caller: Caller | None = None
    """The request's headers that connectors may forward (`source.forward_headers`)."""

    def __post_init__(self) -> None:
        if self.loaders.caller is None:
            self.loaders.caller = self.caller


def _caller(info: Info) -> Caller | None:
    """Whose request this is, for connectors that forward caller headers."""
    return request_loaders(info.context).caller


def _bad_input(connector: Connector, op_name: str, message: str) -> ConnectorError:
    return ConnectorError(
        message, connector=connector.name, operation=op_name, code="BAD_USER_INPUT"
    )


MIN_POLL_MS = 100
"""The shortest interval a subscriber may ask a polling subscription for."""


class ConnectorResolvers:
    """The `ResolverFactory` the schema builder uses for every connector."""

    def __init__(self, cursors: Cursors | None = None, files: Files | None = None) -> None:
        self.cursors = cursors or Cursors.from_environment()
        self.files = files or Files()

    def namespace(self, connector: Connector, *, mutation: bool) -> GraphQLFieldResolver:
        def resolve(parent: Any, info: Info) -> Connector:
            if mutation and getattr(info.context, "role", None) != "admin":
                raise Forbidden("mutations need an admin API key")
            return connector

        return resolve

    def operation(self, connector: Connector, op_name: str) -> GraphQLFieldResolver:
        op = connector.operation(op_name)
        uploads = file_args(op)
        if op.kind == "mutation" or uploads:  # files are read once, never batched or cached
            files = self.files

            async def mutate(parent: Any, info: Info, **args: Any) -> Any:
                if uploads:
                    args = await files.read_args(connector, op_name, args, uploads)
                return await connector.execute(op_name, args, caller=_caller(info))

            return mutate

        returns_list = parse_type_ref(op.response.type).is_list
        item_links = _item_links(connector, op.response.type) if returns_list else {}

        async def query(parent: Any, info: Info, **args: Any) -> Any:
            result = await request_loaders(info.context).load(connector, op_name, args)
            if item_links and isinstance(result, list):
                await _prefetch(info, item_links, result, ((),))
            return result

        return query

    def binary_field(self, name: str) -> GraphQLFieldResolver:
        return self.files.field(name)

    def subscription(self, connector: Connector, op_name: str) -> GraphQLFieldResolver:
        """Read the poll's query now, then every interval, one event per answer, until its
        `until` path holds, it answers null, or `max_polls` reads were made."""
        poll = connector.operation(op_name).poll
        assert poll is not None, f"{op_name} is not a subscription"
        until = compiled_path(poll.until)

        async def subscribe(
            parent: Any, info: Info, intervalMs: int | None = None, **args: Any
        ) -> AsyncIterator[Any]:
            wanted = poll.every * 1000 if intervalMs is None else intervalMs
            interval = max(MIN_POLL_MS, wanted) / 1000
            caller = _caller(info)
            for n in range(poll.max_polls):
                if n:
                    await asyncio.sleep(interval)
                event = await connector.execute(poll.operation, args, caller=caller)
                yield event
                if event is None or until.get(event):
                    return

        return subscribe

    def entities(self, entities: Mapping[str, Entity]) -> EntityResolvers:
        return entity_resolvers(entities)

    def link(self, connector: Connector, link: Resolve) -> GraphQLFieldResolver:
        compiled = LinkedArgs(connector, link)

        def resolve(parent: Any, info: Info, **given: Any) -> Any:
            return compiled.value(request_loaders(info.context), parent, given)

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
        item_links = _item_links(connector, op.response.type)
        cursors = self.cursors

        async def resolve(
            parent: Any,
            info: Info,
            first: int | None = None,
            after: str | None = None,
            **args: Any,
        ) -> dict[str, Any]:
            if link is not None:
                args = linked_args(connector, link, parent, args)
            wanted = page_size if first is None else first
            if wanted < 0 or wanted > max_items:
                raise _bad_input(
                    connector, op_name, f"first must be between 0 and {max_items}, got {wanted}"
                )
            loaders = request_loaders(info.context)
            # once per place in the response: cursors are sealed with a fresh nonce each time
            key = {
                "connection": op_name,
                "at": info.path.as_list(),
                "args": args,
                "first": wanted,
                "after": after,
            }
            result = await loaders.once(connector, key, lambda: page(loaders, args, wanted, after))
            if item_links:
                nodes = result["nodes"]
                await _prefetch(info, item_links, nodes, (("nodes",), ("edges", "node")))
            return result

        async def page(
            loaders: Loaders, args: dict[str, Any], wanted: int, after: str | None
        ) -> dict[str, Any]:
            scope = cursor_scope(connector.name, op_name, args)
            if after:
                try:
                    state, skip = cursors.decode(scope, after)
                except ValueError:
                    raise _bad_input(connector, op_name, "after is not a valid cursor") from None
                skip += 1
            else:
                state, skip = paginator.first(wanted), 0
            # (record, its page's cursor maker, its index in that page)
            picked: list[tuple[Any, Callable[[int], str], int]] = []
            has_next = False
            while len(picked) < wanted:
                fetched = await loaders.fetch(
                    connector.fetch_page(
                        op_name, args, state, wanted - len(picked) + skip, caller=loaders.caller
                    )
                )
                cursor = cursors.page(scope, state)
                for index in range(skip, len(fetched.records)):
                    if len(picked) == wanted:
                        has_next = True
                        break
                    picked.append((fetched.records[index], cursor, index))
                if has_next or fetched.next_state is None:
                    break
                if len(picked) == wanted:
                    has_next = True
                    break
                state, skip = fetched.next_state, 0
            edges = Edges(picked)
            return {
                "edges": edges,
                "nodes": [record for record, _, _ in picked],
                "pageInfo": PageInfo(edges, has_next, bool(after)),
            }

        return resolve

    def linked_list(
        self, connector: Connector, op_name: str, link: Resolve
    ) -> GraphQLFieldResolver:
        op = connector.operation(op_name)
        page_size: int = getattr(op.pagination, "page_size", 30)
        max_items: int = getattr(op.pagination, "max_items", 1000)
        item_links = _item_links(connector, op.response.type)

        async def resolve(
            parent: Any, info: Info, first: int | None = None, **given: Any
        ) -> list[Any]:
            wanted = min(page_size, max_items) if first is None else first
            if wanted < 0 or wanted > max_items:
                raise _bad_input(
                    connector, op_name, f"first must be between 0 and {max_items}, got {wanted}"
                )
            args = linked_args(connector, link, parent, given)
            loaders = request_loaders(info.context)
            key = {"records": op_name, "at": info.path.as_list(), "args": args, "first": wanted}
            records: list[Any] = await loaders.once(
                connector,
                key,
                lambda: loaders.fetch(
                    connector.fetch_records(op_name, args, wanted, caller=loaders.caller)
                ),
            )
            if item_links:
                await _prefetch(info, item_links, records, ((),))
            return records

        return resolve


def linked_args(
    connector: Connector, link: Resolve, parent: Any, given: Mapping[str, Any]
) -> dict[str, Any]:
    """A paginated link's operation arguments: the link's templates (reading `{parent.…}`,
    `{config.…}` and the field's own `{args.…}`), then the given arguments of the operation
    that the link does not set."""
    op = connector.operation(link.operation)
    scope = {"parent": parent, "config": connector.config, "args": given}
    linked = render_value(link.args, scope)
    through = {k: v for k, v in given.items() if k in op.args and k not in link.args}
    return {**through, **linked}


class LinkedArgs:
    """A compiled `resolve`: the linked operation's arguments, rendered from a parent."""

    def __init__(self, connector: Connector, link: Resolve) -> None:
        target = connector.operation(link.operation)
        self.connector = connector
        self.operation = link.operation
        self.key = (id(connector), id(link))
        """Who this link is, for the values `_prefetch` loaded (another LinkedArgs of the
        same connector and `resolve` renders the same arguments)."""
        self.paginated = target.is_paginated
        self._args = [(name, _compile(value)) for name, value in link.args.items()]
        self._through = {name for name in target.args if name not in link.args}
        """Arguments of the operation a field argument of the same name passes on."""
        self._config = connector.config
        self._required = [
            name
            for name, arg in target.args.items()
            if parse_type_ref(arg.type).non_null and arg.default is None
        ]
        self._rendered = [(name, render, name in self._required) for name, render in self._args]
        self._from_parent = _parent_reads(link.args, self._required)
        """(name, path, required) per argument when every one is a lone `{parent.…}`: a
        page's items are read with no scope built."""
        self._unfilled = any(name not in link.args for name in self._required)
        """A required argument only a field argument can give: none given, nothing to link."""
        self.nothing: list[Any] | None = (
            [] if parse_type_ref(target.response.type).is_list else None
        )
        """The result when a required argument renders empty: there is nothing to link to."""

    def args_for(
        self, parent: Any, given: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """The operation's arguments for `parent`, and the field's own arguments `given`."""
        if given:
            scope = {"parent": parent, "config": self._config, "args": given}
            args = {name: render(scope) for name, render in self._args}
            args.update((k, v) for k, v in given.items() if k in self._through and v is not None)
            if any(args.get(name) in (None, "") for name in self._required):
                return None
            return args
        # the path of every item of a page (its links are rendered for the whole page)
        if self._unfilled:
            return None
        if self._from_parent is not None:
            args = {}
            for name, path, required in self._from_parent:
                value = path.get(parent)
                if required and (value is None or value == ""):
                    return None
                args[name] = value
            return args
        scope = {"parent": parent, "config": self._config, "args": {}}
        args = {}
        for name, render, required in self._rendered:
            value = render(scope)
            if required and (value is None or value == ""):
                return None
            args[name] = value
        return args

    def page_keys(self, records: list[Any]) -> tuple[dict[bytes, Any], list[tuple[Any, bytes]]]:
        """The arguments of each record's link, by loader key, and (record, key) in order;
        records with nothing to link to are left out."""
        keyed: dict[bytes, Any] = {}
        pairs: list[tuple[Any, bytes]] = []
        for record in records:
            found = self.args_for(record)
            if found is not None:
                key = args_key(found)
                keyed[key] = found  # the items of a page often link to the same few records
                pairs.append((record, key))
        return keyed, pairs

    def value(self, loaders: Loaders, parent: Any, given: Mapping[str, Any] | None = None) -> Any:
        """The linked value for `parent`: loaded already, or an awaitable of it."""
        if not given:
            found = loaders.prefetched(self.key, parent)
            if isinstance(found, BaseException):
                raise found
            if found is not PENDING:
                return found
        args = self.args_for(parent, given)
        if args is None:
            return self.nothing
        return loaders.get(self.connector, self.operation).now_or_later(args)


def _compile(value: Any) -> Callable[[Mapping[str, Any]], Any]:
    """A renderer for one link argument; lone placeholders skip the template machinery."""
    if isinstance(value, str):
        template = parse_template(value)
        if len(template.parts) == 1 and isinstance(template.parts[0], Placeholder):
            placeholder = template.parts[0]
            namespace, path = placeholder.namespace, placeholder.path
            return lambda scope: path.get(scope.get(namespace))
        return template.render
    return lambda scope: render_value(value, scope)


def _parent_reads(
    args: Mapping[str, Any], required: list[str]
) -> list[tuple[str, SpecPath, bool]] | None:
    reads = []
    for name, value in args.items():
        template = parse_template(value) if isinstance(value, str) else None
        if template is None or len(template.parts) != 1:
            return None
        placeholder = template.parts[0]
        if not isinstance(placeholder, Placeholder) or placeholder.namespace != "parent":
            return None
        reads.append((name, placeholder.path, name in required))
    return reads


def _item_links(connector: Connector, response_type: str) -> dict[str, LinkedArgs]:
    """The link fields of an operation's item type that resolve through a dataloader."""
    spec = connector.spec.types.get(parse_type_ref(response_type).base)
    if not isinstance(spec, ObjectType):
        return {}
    links = {
        name: LinkedArgs(connector, f.resolve)
        for name, f in spec.fields.items()
        if f.resolve and not f.args  # a field's own arguments are known when it resolves
    }
    return {name: link for name, link in links.items() if not link.paginated}


async def _prefetch(
    info: Info,
    links: Mapping[str, LinkedArgs],
    records: list[Any],
    paths: tuple[tuple[str, ...], ...],
) -> None:
    """Load every selected link of `records` in one batch before their fields resolve."""
    selected = set()
    for node in info.field_nodes:
        for path in paths:
            selected |= _selected_names(node.selection_set, path, info.fragments)
    loaders = request_loaders(info.context)
    waiting = []
    for name in selected & links.keys():
        link = links[name]
        loader = loaders.get(link.connector, link.operation)
        keyed, pairs = link.page_keys(records)
        linked = loaders.linked
        for record, key in pairs:
            linked[(link.key, id(record))] = (record, loader, key)
        loaded = loader.load_all(keyed)
        if loaded is not None:
            waiting.append(loaded)
    for loaded in waiting:  # failures stay in the loaders' answers; each field raises its own
        await loaded


def _selected_names(
    selection_set: SelectionSetNode | None,
    path: tuple[str, ...],
    fragments: Mapping[str, FragmentDefinitionNode],
) -> set[str]:
    """Names of the fields selected at `path` below a selection set, through fragments."""
    names: set[str] = set()
    if selection_set is None:
        return names
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if not path:
                names.add(selection.name.value)
            elif selection.name.value == path[0]:
                names |= _selected_names(selection.selection_set, path[1:], fragments)
        elif isinstance(selection, InlineFragmentNode):
            names |= _selected_names(selection.selection_set, path, fragments)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                names |= _selected_names(fragment.selection_set, path, fragments)
    return names
