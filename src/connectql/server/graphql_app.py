"""/graphql: strawberry's ASGI view, pinned per request to the schema live when it starts.

Each schema version gets its own strawberry `GraphQL` app; the dispatcher hands every new
HTTP request or WebSocket connection to the app of the current version, so a swap never
changes the schema under a request or subscription already running. The caller's role comes
from its API key (HTTP headers, or the WebSocket `connection_init` payload).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from connectql.control.access import AccessControl, key_from_headers
from connectql.control.service import ControlPlane
from connectql.errors import Forbidden
from connectql.resolvers.fields import RequestContext
from connectql.schema.compose import BuiltSchema
from connectql.server import graphiql as graphiql_page

ROLE = "connectql_role"
"""Where LiveGraphQL leaves an HTTP request's role for the view's context."""


class _PinnedGraphQL(GraphQL[RequestContext, None]):
    def __init__(
        self, built: BuiltSchema, control: ControlPlane, access: AccessControl, graphiql: bool
    ) -> None:
        super().__init__(
            built.schema,
            graphql_ide="graphiql" if graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
        self._connectors = dict(control.runtime.connectors)
        self._control = control
        self._access = access
        self._built = built
        self._example: str | None = None

    async def render_graphql_ide(self, request: Request) -> Response:
        # our page, not strawberry's: its assets come from this server, not from CDNs
        if self._example is None:
            schema = self._built.graphql_schema
            self._example = graphiql_page.example_query(schema, self._connectors)
        root_path = request.scope.get("root_path", "")
        return HTMLResponse(graphiql_page.render(root_path, self._example))

    def encode_json(self, data: object) -> str:
        # text, not bytes: the same encoder writes WebSocket frames, which must be text
        return orjson.dumps(data).decode()

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> RequestContext:
        judged = request.scope.get("state", {})
        if ROLE in judged:
            role = judged[ROLE]  # LiveGraphQL judged this HTTP request already
        else:
            try:
                role = self._access.role_for(key_from_headers(request.headers))
            except Forbidden:
                role = None  # a WebSocket: its key is checked on connection_init
        return RequestContext(
            request=request,
            response=response,
            connectors=self._connectors,
            control=self._control,
            role=role,
        )

    async def on_ws_connect(self, context: RequestContext) -> None:
        params: dict[str, Any] = getattr(context, "connection_params", None) or {}
        key = params.get("apiKey") or params.get("api_key")
        auth = params.get("authorization") or params.get("Authorization")
        if not key and isinstance(auth, str) and auth.lower().startswith("bearer "):
            key = auth[7:].strip()
        if key:
            try:
                context.role = self._access.role_for(str(key))
            except Forbidden:
                raise ConnectionRejectionError({"message": "the API key is not valid"}) from None
        if context.role is None:
            raise ConnectionRejectionError({"message": "an API key is needed"})


class LiveGraphQL:
    """ASGI app serving the runtime's current schema."""

    def __init__(
        self, control: ControlPlane, access: AccessControl, *, graphiql: bool = True
    ) -> None:
        self._control = control
        self._access = access
        self._graphiql = graphiql
        self._app: tuple[BuiltSchema, _PinnedGraphQL] | None = None

    def current(self) -> _PinnedGraphQL:
        built = self._control.runtime.schema
        if self._app is None or self._app[0] is not built:
            pinned = _PinnedGraphQL(built, self._control, self._access, self._graphiql)
            self._app = (built, pinned)
        return self._app[1]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _is_operation(scope):
            try:
                role = self._access.role_for(key_from_headers(Request(scope).headers))
            except Forbidden as exc:
                await _error(401, str(exc))(scope, receive, send)
                return
            if role is None:
                refusal = _error(401, "an API key is needed (Authorization: Bearer KEY)")
                await refusal(scope, receive, send)
                return
            scope.setdefault("state", {})[ROLE] = role
        await self.current()(scope, receive, send)


def _is_operation(scope: Scope) -> bool:
    """A POST, or a GET carrying a query (a bare GET is the GraphiQL page)."""
    return scope.get("method") == "POST" or b"query=" in scope.get("query_string", b"")


def _error(status: int, message: str) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]}
    return Response(orjson.dumps(body), status, media_type="application/json")
