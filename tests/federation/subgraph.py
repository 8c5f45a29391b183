"""What the strawberry subgraphs of these tests share: a recorder of the operations a subgraph
is sent (the gateway's `_entities` calls above all), and serving one under uvicorn.

    recorder = Recorder()
    schema = strawberry.federation.Schema(query=Query, extensions=[recording(recorder)])
    async with serving_subgraph(schema, key="k") as served:  # served.url ends in /graphql
        ...
        recorder.entity_calls, recorder.representations
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    ListValueNode,
    VariableNode,
    get_operation_ast,
    value_from_ast_untyped,
)
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.extensions import SchemaExtension
from strawberry.federation import Schema

from tests.support import running


@dataclass(frozen=True)
class Operation:
    """One operation a subgraph executed."""

    root_fields: tuple[str, ...]
    representations: tuple[dict[str, Any], ...] | None
    """`_entities`' representations (None: the operation has no `_entities`)."""
    headers: dict[str, str]
    """The HTTP request's headers, names lower-cased."""

    @property
    def typenames(self) -> Counter[str]:
        return Counter(str(r.get("__typename")) for r in self.representations or ())


@dataclass
class Recorder:
    """Every operation a subgraph executed, in order (introspection included)."""

    operations: list[Operation] = field(default_factory=list)

    @property
    def entity_calls(self) -> list[Operation]:
        return [op for op in self.operations if op.representations is not None]

    @property
    def representations(self) -> int:
        """Representations received over all `_entities` calls."""
        return sum(len(op.representations or ()) for op in self.operations)

    def reset(self) -> None:
        self.operations.clear()


class _Recording(SchemaExtension):
    def __init__(self, recorder: Recorder) -> None:
        super().__init__()
        self.recorder = recorder

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        operation = (
            get_operation_ast(context.graphql_document, context.operation_name)
            if context.graphql_document
            else None
        )
        if operation is not None:
            fields = [s for s in operation.selection_set.selections if isinstance(s, FieldNode)]
            request = (context.context or {}).get("request")
            headers = {k.lower(): v for k, v in request.headers.items()} if request else {}
            self.recorder.operations.append(
                Operation(
                    root_fields=tuple(f.name.value for f in fields),
                    representations=_representations(fields, context.variables or {}),
                    headers=headers,
                )
            )
        yield


def _representations(
    fields: list[FieldNode], variables: dict[str, Any]
) -> tuple[dict[str, Any], ...] | None:
    found: list[dict[str, Any]] | None = None
    for node in fields:
        if node.name.value != "_entities":
            continue
        found = found or []
        for argument in node.arguments or ():
            if argument.name.value != "representations":
                continue
            value = argument.value
            if isinstance(value, VariableNode):
                found += variables.get(value.name.value) or []
            elif isinstance(value, ListValueNode):
                found += value_from_ast_untyped(value, variables) or []
    # Copies: strawberry pops `__typename` from the representations it is given.
    return None if found is None else tuple(dict(r) for r in found)


def recording(recorder: Recorder) -> Callable[[], SchemaExtension]:
    """An extension factory (strawberry wants classes or factories, not instances)."""
    return lambda: _Recording(recorder)


class _GraphQL(GraphQL[dict[str, Any], None]):
    def __init__(self, schema: Schema, context: Mapping[str, Any]) -> None:
        super().__init__(schema, graphql_ide=None)
        self.context = dict(context)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> dict[str, Any]:
        return {"request": request, "response": response, **self.context}


class SubgraphApp:
    """A schema over HTTP, `context` added to each request's; with `key`, requests without
    `Authorization: Bearer KEY` are refused (401), as connectql refuses them. An ASGI app,
    so that Starlette routes to it as it is."""

    def __init__(
        self, schema: Schema, key: str | None = None, context: Mapping[str, Any] | None = None
    ) -> None:
        self.key = key
        self.context = dict(context or {})
        self.view = _GraphQL(schema, self.context)

    def swap(self, schema: Schema) -> None:
        """Serve `schema` from the next request on (as connectql swaps its own)."""
        self.view = _GraphQL(schema, self.context)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.key is not None
            and scope["type"] == "http"
            and Headers(scope=scope).get("authorization") != f"Bearer {self.key}"
        ):
            refusal = {"errors": [{"message": "missing or wrong API key"}]}
            await JSONResponse(refusal, status_code=401)(scope, receive, send)
            return
        await self.view(scope, receive, send)


@dataclass(frozen=True)
class Served:
    url: str
    """The GraphQL endpoint (…/graphql)."""
    app: SubgraphApp


@contextlib.asynccontextmanager
async def serving_subgraph(
    schema: Schema, key: str | None = None, context: Mapping[str, Any] | None = None
) -> AsyncIterator[Served]:
    """The subgraph at /graphql under uvicorn on 127.0.0.1:0."""
    app = SubgraphApp(schema, key, context)
    routes = [Route("/graphql", app, methods=["GET", "POST"])]
    async with running(Starlette(routes=routes)) as base:
        yield Served(f"{base}/graphql", app)
