"""/graphql, pinned per request to the schema live when it starts.

Each schema version gets its own apps: `graphql_http.GraphQLHTTP` for JSON POSTs and GETs
with a query, and strawberry's `GraphQL` view for the rest (file uploads, the GraphiQL page,
WebSockets). The dispatcher hands every new HTTP request or WebSocket connection to the apps
of the current version, so a swap never changes the schema under a request or subscription
already running. Who may call is judged before, by `guard.Guard` (the role it leaves in the
scope), or for a WebSocket by the key in its `connection_init` payload. A request that is not
a GraphQL request is answered 400 with a message, never a 500. File uploads follow the
GraphQL multipart request spec, behind the same CSRF rule as Apollo's (a header a cross-site
form cannot send).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.file_uploads.utils import replace_placeholders_with_files
from strawberry.http import GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import Message
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from connectql.connectors.callers import Caller
from connectql.control.access import AccessControl, key_from_headers, key_header
from connectql.control.service import ControlPlane
from connectql.errors import Forbidden
from connectql.graph.compose import BuiltSchema
from connectql.graph.limits import Limits
from connectql.resolvers.fields import RequestContext
from connectql.server import graphiql as graphiql_page
from connectql.server.graphql_http import (
    HTTP_OPERATIONS,
    NO_QUERY,
    SUBSCRIPTIONS,
    GraphQLHTTP,
    RequestRefused,
    decode_json,
    forwards,
    parse_json,
    refusal,
    request_context,
    send_json,
)
from connectql.server.guard import GRAPHQL_PATH, ROLE, is_page_load, route_path

log = logging.getLogger("connectql.server")

PREFLIGHT_HEADERS = (
    "authorization",
    "x-api-key",
    "apollo-require-preflight",
    "x-apollo-operation-name",
)
"""A multipart request needs one: browsers send none of them cross-site without a CORS
preflight, which is what keeps a forged form from posting uploads (Apollo's CSRF rule)."""
NO_PREFLIGHT = (
    "a multipart request needs one of the headers Authorization, X-API-Key, "
    "Apollo-Require-Preflight or X-Apollo-Operation-Name (protection against cross-site forms)"
)
MULTIPART_SHAPE = (
    'operations must be one JSON object, map like {"0": ["variables.file"]} (paths into variables)'
)


class _CheckedTransportWS(BaseGraphQLTransportWSHandler[RequestContext, None]):
    """strawberry trusts the shape of graphql-transport-ws messages: a payload that is not an
    object, or an id that is not a string, ended the connection with a traceback. Such a
    message closes it with 4400, as the protocol says for invalid messages."""

    async def handle_message(self, message: Message) -> None:
        problem = _message_problem(message)
        if problem is not None:
            await self.handle_invalid_message(problem)
            return
        await super().handle_message(message)


def _message_problem(message: object) -> str | None:
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return "a message must be a JSON object with a type"
    if message["type"] not in ("subscribe", "complete"):
        return None
    if not isinstance(message.get("id"), str):
        return "an operation's id must be a string"
    payload = message.get("payload")
    if message["type"] == "complete":
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return "a subscribe payload must be an object with a query string"
    if not isinstance(payload.get("variables") or {}, dict):
        return "variables must be an object"
    if not isinstance(payload.get("operationName") or "", str):
        return "operationName must be a string"
    return None


class _PinnedGraphQL(GraphQL[RequestContext, None]):
    graphql_transport_ws_handler_class = _CheckedTransportWS

    def __init__(
        self,
        built: BuiltSchema,
        control: ControlPlane,
        access: AccessControl,
        graphiql: bool,
        limits: Limits,
        ws_init_timeout: float,
    ) -> None:
        super().__init__(
            built.schema,
            graphql_ide="graphiql" if graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=ws_init_timeout),
            multipart_uploads_enabled=True,
        )
        self._connectors = dict(control.runtime.connectors)
        self._forwards = forwards(self._connectors)
        self._control = control
        self._access = access
        self._built = built
        self._limits = limits
        self._example: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await self.run(request)
        except HTTPException as exc:
            await send_json(send, *refusal(exc.status_code, exc.reason))
            return
        finally:
            await request.close()  # the spooled files of a multipart request
        await response(scope, receive, send)

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        return is_page_load(request.method, request.query_params, request.headers)

    async def render_graphql_ide(self, request: Request) -> Response:
        # our page, not strawberry's: its assets come from this server, not from CDNs
        try:
            reader = self._access.role_for(key_from_headers(request.headers)) is not None
        except Forbidden:
            reader = False
        if not reader:  # the page is public: its example shows nothing of the schema
            example = "{ schemaVersion }"
        else:
            if self._example is None:
                schema = self._built.graphql_schema
                self._example = graphiql_page.example_query(schema, self._connectors)
            example = self._example
        root_path = request.scope.get("root_path", "")
        return HTMLResponse(graphiql_page.render(root_path, example))

    def encode_json(self, data: object) -> str:
        # text, not bytes: the same encoder writes WebSocket frames, which must be text
        return orjson.dumps(data).decode()

    def decode_json(self, data: str | bytes) -> object:
        """WebSocket messages, multipart fields and GET parameters (JSON bodies are served by
        `GraphQLHTTP`)."""
        return decode_json(data, self._limits.max_input_depth)

    def parse_json(self, data: str | bytes) -> Any:
        try:
            return parse_json(data, self._limits.max_input_depth)
        except RequestRefused as refused:
            raise HTTPException(refused.status, refused.reason) from None

    async def parse_multipart(self, request: AsyncHTTPRequestAdapter) -> dict[str, Any]:
        """A GraphQL multipart request (file uploads): only with a header a cross-site form
        cannot send without the browser asking first (CSRF), and only files in variables."""
        if not any(request.headers.get(name) for name in PREFLIGHT_HEADERS):
            raise HTTPException(400, NO_PREFLIGHT)
        try:
            form = await request.get_form_data()
        except (ValueError, MultiPartException, StarletteHTTPException):
            raise HTTPException(400, "the multipart body is not valid") from None
        operations, files_map = form.form.get("operations"), form.form.get("map", "{}")
        if not isinstance(operations, str) or not isinstance(files_map, str):
            raise HTTPException(400, "a multipart request needs operations and map fields")
        data, where = self.parse_json(operations), self.parse_json(files_map)
        if not isinstance(data, dict) or not _is_file_map(where):
            raise HTTPException(400, MULTIPART_SHAPE)
        try:
            return replace_placeholders_with_files(data, where, form.files)
        except (KeyError, IndexError, TypeError, ValueError):
            raise HTTPException(
                400, "the map names a file or a variable that is not there"
            ) from None

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: RequestContext,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        method = request_adapter.method
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=HTTP_OPERATIONS.get(method, set()),
                operation_extensions=request_data.extensions,
            )
        except InvalidOperationTypeError as exc:
            if exc.operation_type is OperationType.SUBSCRIPTION:
                reason = SUBSCRIPTIONS
            else:
                reason = exc.as_http_error_reason(method)
            raise HTTPException(400, reason) from None
        except CannotGetOperationTypeError as exc:
            raise HTTPException(400, exc.as_http_error_reason()) from None
        except MissingQueryError:
            raise HTTPException(400, NO_QUERY) from None

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> RequestContext:
        judged = request.scope.get("state", {})
        if ROLE in judged:
            role = judged[ROLE]  # the guard judged this request already
        else:
            try:  # the GraphiQL page load, which needs no role
                role = self._access.role_for(key_from_headers(request.headers))
            except Forbidden:
                role = None
        return request_context(
            request, self._connectors, self._control, role, forwarded=self._forwards
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
        if context.request is not None:  # forwarded headers: the payload's win (browsers)
            headers = context.request.headers
            context.caller = Caller.of_request(
                headers, withheld=key_header(headers), init_headers=params.get("headers")
            )
            context.loaders.caller = context.caller


class GraphQLMount:
    """Serves /graphql ahead of the framework's router (its exception handlers, exit stack
    and route matching do nothing for it); every other path goes on to `app`."""

    def __init__(self, app: ASGIApp, graphql: LiveGraphQL) -> None:
        self.app = app
        self.graphql = graphql

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and route_path(scope) == GRAPHQL_PATH:
            await self.graphql(scope, receive, send)  # a method but GET, HEAD, POST: 405
        else:
            await self.app(scope, receive, send)


class LiveGraphQL:
    """ASGI app serving the runtime's current schema."""

    def __init__(
        self,
        control: ControlPlane,
        access: AccessControl,
        *,
        graphiql: bool = True,
        ws_init_timeout: float = 10.0,
    ) -> None:
        self._control = control
        self._access = access
        self._graphiql = graphiql
        self._ws_init_timeout = ws_init_timeout
        self._apps: tuple[BuiltSchema, GraphQLHTTP, _PinnedGraphQL] | None = None

    def current(self) -> tuple[BuiltSchema, GraphQLHTTP, _PinnedGraphQL]:
        """The apps of the schema version live now."""
        built = self._control.runtime.schema
        if self._apps is None or self._apps[0] is not built:
            view = _PinnedGraphQL(
                built,
                self._control,
                self._access,
                self._graphiql,
                self._control.runtime.limits,
                self._ws_init_timeout,
            )
            self._apps = (built, GraphQLHTTP(built, self._control, view), view)
        return self._apps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        _, http, view = self.current()
        await (http if scope["type"] == "http" else view)(scope, receive, send)


def _is_file_map(value: object) -> bool:
    """`{"0": ["variables.file", …], …}`: each path into variables, one level or more."""
    return isinstance(value, dict) and all(
        isinstance(paths, list)
        and all(isinstance(p, str) and p.startswith("variables.") for p in paths)
        for paths in value.values()
    )
