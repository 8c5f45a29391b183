"""/graphql: strawberry's ASGI view, pinned per request to the schema live when it starts.

Each schema version gets its own strawberry `GraphQL` app; the dispatcher hands every new
HTTP request or WebSocket connection to the app of the current version, so a swap never
changes the schema under a request or subscription already running.
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from connectql.resolvers.fields import RequestContext
from connectql.runtime import Runtime
from connectql.schema.compose import BuiltSchema


class _PinnedGraphQL(GraphQL[RequestContext, None]):
    def __init__(self, built: BuiltSchema, runtime: Runtime, graphiql: bool) -> None:
        super().__init__(
            built.schema,
            graphql_ide="graphiql" if graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
        self._connectors = dict(runtime.connectors)

    def encode_json(self, data: object) -> str:
        # text, not bytes: the same encoder writes WebSocket frames, which must be text
        return orjson.dumps(data).decode()

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> RequestContext:
        return RequestContext(request=request, response=response, connectors=self._connectors)


class LiveGraphQL:
    """ASGI app serving the runtime's current schema."""

    def __init__(self, runtime: Runtime, *, graphiql: bool = True) -> None:
        self._runtime = runtime
        self._graphiql = graphiql
        self._app: tuple[BuiltSchema, _PinnedGraphQL] | None = None

    def current(self) -> _PinnedGraphQL:
        built = self._runtime.schema
        if self._app is None or self._app[0] is not built:
            self._app = (built, _PinnedGraphQL(built, self._runtime, self._graphiql))
        return self._app[1]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.current()(scope, receive, send)
