"""POST and GET /graphql for queries and mutations, served without strawberry's view.

A JSON POST, or a GET with a `query` parameter, is answered here; anything else at /graphql
(file uploads, the GraphiQL page, WebSockets, other methods or content types) goes to
strawberry's view (`graphql_app.py`). The answers are the view's, as it gave them:

- 400 with `{"errors": [{"message", "extensions": {"code": "BAD_USER_INPUT"}}]}` for a
  request that is not one GraphQL request: a body that is not one JSON object, JSON that is
  invalid or nests deeper than `limits.max_input_depth`, `query`/`variables`/`extensions`
  of the wrong type, no query, an `operationName` the document lacks, a mutation over GET,
  a subscription (served over the WebSocket only);
- 200 with `data: null` and the errors for a document that does not parse or validate
  (limits included) or costs too much with its variables; else 200 with the execution's
  data and errors. Errors are logged (`log_errors`) before `safe_errors` rewrites them.

Each request is judged once, by the guard (the role it left in the scope). Its raw body (or
query string, for GET) keys a cache of what it asks for, per schema version: the validated
document, the operation and the refusal or validation errors. A repeated request goes from
its bytes to execution without parsing its document's JSON or GraphQL; only its variables
are parsed (orjson) and then coerced by graphql-core, each time.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from inspect import isawaitable
from json import JSONDecodeError
from typing import Any, TypeGuard, cast

import orjson
from graphql import DocumentNode, GraphQLError, OperationDefinitionNode, execute
from starlette.datastructures import QueryParams
from starlette.requests import ClientDisconnect, HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.execution import optimized_is_awaitable
from strawberry.types.graphql import OperationType

from connectql.connectors.callers import Caller
from connectql.connectors.connector import Connector
from connectql.control.access import key_header
from connectql.control.service import ControlPlane
from connectql.graph.compose import BuiltSchema
from connectql.graph.limits import variables_cost
from connectql.resolvers.errors import drop_tracebacks, log_errors, safe_errors
from connectql.resolvers.fields import RequestContext
from connectql.server.guard import ROLE

log = logging.getLogger("connectql.server")

HTTP_OPERATIONS = {
    "GET": {OperationType.QUERY},
    "POST": {OperationType.QUERY, OperationType.MUTATION},
}
"""strawberry allows subscriptions over POST too, then runs them as queries (an INTERNAL
error): here they are served over the WebSocket only."""
SUBSCRIPTIONS = "subscriptions are served over a WebSocket (graphql-transport-ws)"
PLURALS = {
    OperationType.QUERY: "queries",
    OperationType.MUTATION: "mutations",
    OperationType.SUBSCRIPTION: "subscriptions",
}
NO_QUERY = "No GraphQL query found in the request"
NOT_A_REQUEST = (
    'the body must be one JSON object: {"query": "…", "variables": {…}} (batches are not supported)'
)
HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
"""`extensions.code` of a refusal by status; any other is BAD_USER_INPUT."""
PLANS_KEPT = 512
"""Request bodies (and GET query strings) whose plans each schema version keeps."""
JSON_HEADERS = [(b"content-type", b"application/json")]
_is_awaitable = cast(Callable[[Any], "TypeGuard[Awaitable[Any]]"], optimized_is_awaitable)
"""strawberry's check (faster than graphql-core's), typed as graphql-core wants it."""


class RequestRefused(Exception):
    """A request that is not one GraphQL request this server runs: answered `status`."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class TooDeep(JSONDecodeError):
    """JSON nested deeper than the limit; a JSONDecodeError, so a WebSocket message of it
    closes the socket like any message that is not JSON."""


def decode_json(data: str | bytes, max_depth: int) -> Any:
    """HTTP bodies, GET parameters, multipart fields and WebSocket messages (invalid UTF-8
    is a JSONDecodeError here, not a UnicodeDecodeError)."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if exc.msg.startswith("depth limit"):  # orjson stops at 1024 levels
            raise TooDeep("nested too deeply", "", 0) from None
        raise
    if _nesting_exceeds(value, max_depth):
        raise TooDeep("nested too deeply", "", 0)
    return value


def parse_json(data: str | bytes, max_depth: int) -> Any:
    """`decode_json`, or a 400 saying what is wrong."""
    try:
        return decode_json(data, max_depth)
    except TooDeep:
        raise RequestRefused(
            400, f"the JSON nests lists and objects over {max_depth} deep"
        ) from None
    except JSONDecodeError:
        raise RequestRefused(400, "the request's JSON is not valid (or not UTF-8)") from None


def refusal(status: int, reason: str) -> tuple[int, bytes]:
    """The status and body of a refused request (logged without its reason, which may
    quote the request)."""
    log.info("request refused: %d at /graphql", status)
    code = HTTP_CODES.get(status, "BAD_USER_INPUT")
    return status, orjson.dumps({"errors": [{"message": reason, "extensions": {"code": code}}]})


async def send_json(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-length", str(len(body)).encode()), *JSON_HEADERS]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def forwards(connectors: Mapping[str, Connector]) -> bool:
    """Whether a call of these connectors may read the caller's headers."""
    return any(c.requester.forwarding.active for c in connectors.values())


def request_context(
    connection: HTTPConnection,
    connectors: Mapping[str, Connector],
    control: ControlPlane,
    role: str | None,
    *,
    forwarded: bool,
) -> RequestContext:
    """The GraphQL context of an HTTP request or a WebSocket connection; its caller's
    headers only when a connector may forward some (`forwarded`)."""
    caller = None
    if forwarded:
        headers = connection.headers
        caller = Caller.of_request(headers, withheld=key_header(headers))
    return RequestContext(
        request=connection, connectors=connectors, control=control, role=role, caller=caller
    )


@dataclass(frozen=True, slots=True)
class _Plan:
    """What one request asks, decided once for its bytes."""

    document: DocumentNode | None
    errors: list[GraphQLError]
    """The document's syntax or validation errors: answered 200 with `data: null`."""
    refusal: str | None
    """Why the request is answered 400."""
    operation_name: str | None
    """The operation graphql-core runs (strawberry's choice: the first, if none is named)."""
    parameters: bool
    """Whether the request has variables or extensions (parsed again for each request)."""


@dataclass(frozen=True, slots=True)
class _Request:
    query: object
    variables: object
    extensions: object
    operation_name: Any


class GraphQLHTTP:
    """One schema version's /graphql over plain HTTP; `view` gets what this doesn't serve."""

    def __init__(self, built: BuiltSchema, control: ControlPlane, view: ASGIApp) -> None:
        self._built = built
        self._schema = built.graphql_schema
        self._executor = built.schema.execution_context_class
        self._documents = built.documents
        self._limits = built.documents.limits
        self._control = control
        self._connectors = dict(control.runtime.connectors)
        self._forwards = forwards(self._connectors)
        self._view = view
        self._max_key = 2 * self._limits.max_cached_document + 256
        """Longer bodies are not kept: their documents are not (or their variables are big)."""
        self._plans: OrderedDict[tuple[str, bytes], _Plan] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method == "POST" and _is_json(scope):
            body = await _read_body(receive)
            key = ("POST", body)
            read: Callable[[], _Request] = lambda: self._post(body)  # noqa: E731
        elif method == "GET":
            raw = scope["query_string"]
            key = ("GET", raw)
            if key not in self._plans and "query" not in QueryParams(raw):
                await self._view(scope, receive, send)  # the GraphiQL page, or its refusal
                return
            read = lambda: self._get(raw)  # noqa: E731
        else:
            await self._view(scope, receive, send)
            return
        try:
            status, answer = await self._serve(scope, key, read)
        except RequestRefused as refused:
            status, answer = refusal(refused.status, refused.reason)
        await send_json(send, status, answer)

    async def _serve(
        self, scope: Scope, key: tuple[str, bytes], read: Callable[[], _Request]
    ) -> tuple[int, bytes]:
        plan = self._plans.get(key)
        if plan is not None:
            self._plans.move_to_end(key)
            request = read() if plan.parameters else None
        else:
            request = read()
            plan = self._plan(key, request)
        if plan.refusal is not None:
            return refusal(400, plan.refusal)
        if plan.errors or plan.document is None:
            return 200, _answer(None, plan.errors)
        variables: Any = request.variables if request is not None else None
        extensions = request.extensions if request is not None else None
        connection = HTTPConnection(scope)
        role = scope.get("state", {}).get(ROLE)  # the guard judged this request
        context = request_context(
            connection, self._connectors, self._control, role, forwarded=self._forwards
        )
        try:
            errors = variables_cost(
                self._schema, plan.document, plan.operation_name, self._limits, variables or {}
            )
            if errors:
                return 200, _answer(None, errors)
            result: Any = execute(
                self._schema,
                plan.document,
                context_value=context,
                variable_values=variables,
                operation_name=plan.operation_name,
                executor_class=self._executor,
                is_awaitable=_is_awaitable,
                operation_extensions=extensions,
            )
            if isawaitable(result):
                result = await result
            data, errors = result.data, result.errors
        except Exception as exc:  # strawberry's rule: any error is the result's only one
            data, errors = None, [_as_graphql_error(exc)]
        try:
            return 200, _answer(data, errors)
        finally:
            context.loaders.close()
            drop_tracebacks(errors)

    def _plan(self, key: tuple[str, bytes], request: _Request) -> _Plan:
        method = key[0]
        query = request.query
        parameters = request.variables is not None or request.extensions is not None
        if not query or not isinstance(query, str):
            return _Plan(None, [], NO_QUERY, None, parameters)
        document, errors = self._documents.prepare(self._schema, query)
        if document is None:
            return _Plan(None, errors, None, None, parameters)
        given = request.operation_name
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        operation: OperationDefinitionNode | None
        if given is None:
            operation = operations[0] if operations else None
            name = operation.name.value if operation and operation.name else None
        else:
            operation = next((o for o in operations if o.name and o.name.value == given), None)
            name = given
        reason: str | None = None
        if operation is None:
            reason = (
                "Can't get GraphQL operation type"
                if name is None
                else f'Unknown operation named "{name}".'
            )
        elif (kind := OperationType(operation.operation.value)) is OperationType.SUBSCRIPTION:
            reason = SUBSCRIPTIONS
        elif kind not in HTTP_OPERATIONS[method]:
            reason = f"{PLURALS[kind]} are not allowed when using {method}"
        plan = _Plan(document, errors, reason, name, parameters)
        if len(key[1]) <= self._max_key and self._documents.cached(query) is not None:
            self._plans[key] = plan
            if len(self._plans) > PLANS_KEPT:
                self._plans.popitem(last=False)
        return plan

    def _post(self, body: bytes) -> _Request:
        # strawberry would take a list as a batch (refused) and fail on other values
        if not body.lstrip().startswith(b"{"):
            raise RequestRefused(400, NOT_A_REQUEST)
        data = parse_json(body, self._limits.max_input_depth)
        return _checked(
            data.get("query"),
            data.get("variables"),
            data.get("extensions"),
            data.get("operationName"),
        )

    def _get(self, raw: bytes) -> _Request:
        params = QueryParams(raw)
        depth = self._limits.max_input_depth
        variables: object = params.get("variables")
        if variables:
            variables = parse_json(str(variables), depth)
        extensions: object = params.get("extensions")
        if extensions:
            extensions = parse_json(str(extensions), depth)
        return _checked(params.get("query"), variables, extensions, params.get("operationName"))


def _checked(query: object, variables: object, extensions: object, name: object) -> _Request:
    """The request's parts, each of the type the GraphQL over HTTP spec says."""
    if not isinstance(query, str | None):
        raise RequestRefused(
            400, "The GraphQL operation's `query` must be a string or null, if provided."
        )
    if not isinstance(variables, dict | None):
        raise RequestRefused(
            400, "The GraphQL operation's `variables` must be an object or null, if provided."
        )
    if not isinstance(extensions, dict | None):
        raise RequestRefused(
            400, "The GraphQL operation's `extensions` must be an object or null, if provided."
        )
    return _Request(query, variables, extensions, name)


def _as_graphql_error(error: Exception) -> GraphQLError:
    """An unexpected error as the result's error (masked as INTERNAL unless it is ours)."""
    return (
        error if isinstance(error, GraphQLError) else GraphQLError(str(error), original_error=error)
    )


def _answer(data: Any, errors: list[GraphQLError] | None) -> bytes:
    if not errors:
        return orjson.dumps({"data": data})
    log_errors(errors)
    return orjson.dumps({"data": data, "errors": [e.formatted for e in safe_errors(errors)]})


def _is_json(scope: Scope) -> bool:
    """Whether the request's media type names JSON (as strawberry's view decided)."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return b"application/json" in media
    return False


async def _read_body(receive: Receive) -> bytes:
    message = await receive()
    if message["type"] == "http.request" and not message.get("more_body", False):
        body: bytes = message.get("body", b"")
        return body
    chunks: list[bytes] = []
    while True:
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)
        message = await receive()


def _nesting_exceeds(value: object, limit: int) -> bool:
    """Whether lists and objects in `value` nest deeper than `limit` (without recursion:
    graphql-core's coercion of variables recurses, so depth is checked before)."""
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False
