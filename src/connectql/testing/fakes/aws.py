"""AWS for tests: moto in server mode does the services' work, behind a front door that checks
what AWS checks first and adds what moto never does.

    async with moto_server() as moto, AwsFront(moto, {ACCESS_KEY: SECRET_KEY}) as aws:
        ...                          # point connectors at aws.url
        assert aws.violations == []  # every request matched botocore's service model
        aws.count("POST", "/")       # the FakeUpstream recorder and fault injector

The front (a FakeUpstream on 127.0.0.1:0) verifies each request's SigV4 signature (as
botocore computes it) against the credentials it was given and refuses others with the
service's own error; checks each request against botocore's model of the service (operation,
required members, member types, unknown query parameters; the shapes of DynamoDB bodies) and
records violations; forwards the rest to moto. Two things moto cannot do are the front's:
`hold_back` makes the next BatchGetItem calls answer some keys as `UnprocessedKeys`, and
Lambda `Invoke` runs a Python handler from `functions` (moto would need docker), answering a
raised exception as a function error (`X-Amz-Function-Error: Unhandled`).

moto's state is per process: `moto_server` resets it when it starts. Needs `moto[server]`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

import aiohttp
import orjson
from aiohttp import web
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.session import get_session
from botocore.validate import ParamValidator

from connectql.testing.upstream import FakeUpstream

START_TIMEOUT = 30.0
DYNAMODB_JSON = "application/x-amz-json-1.0"
HOP_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "connection", "content-encoding", "date", "server"}
)
_SCOPE = re.compile(r"Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")


@contextlib.asynccontextmanager
async def moto_server() -> AsyncIterator[str]:
    """moto's ThreadedMotoServer on 127.0.0.1 (a free port), reset; yield its URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    await asyncio.wait_for(asyncio.to_thread(server.start), START_TIMEOUT)
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            timeout = aiohttp.ClientTimeout(total=START_TIMEOUT)
            async with session.post(f"{url}/moto-api/reset", timeout=timeout) as reset:
                reset.raise_for_status()
        yield url
    finally:
        await asyncio.wait_for(asyncio.to_thread(server.stop), START_TIMEOUT)


@dataclass(frozen=True)
class Credential:
    secret_key: str
    session_token: str | None = None
    """Temporary credentials: requests must carry this X-Amz-Security-Token."""


class AwsFront(FakeUpstream):
    def __init__(self, moto_url: str, credentials: Mapping[str, Credential | str]) -> None:
        """`credentials`: access key id → its secret key (or a Credential with a token)."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        super().__init__(app)
        self.moto_url = moto_url
        self.credentials = dict(credentials)
        self.violations: list[str] = []
        """Requests botocore's model of the service would refuse: a test asserts none."""
        self.hold_back: list[int] = []
        """For each coming BatchGetItem call, how many of its keys to answer unprocessed."""
        self.held_back: list[list[Any]] = []
        """The keys each BatchGetItem answer held back (one list per call that held some)."""
        self.functions: dict[str, Callable[[Any], Any]] = {}
        """Lambda handlers by function name (the function must also exist in moto)."""
        self._models: dict[str, ServiceModel] = {}
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        await super().start()

    async def stop(self) -> None:
        await super().stop()
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- the front door ----------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        scope = _SCOPE.search(request.headers.get("Authorization", ""))
        service = scope.group(4) if scope else _service_of(request)
        refused = self._refusal(request, body, service)
        if refused is not None:
            return _auth_error(service, *refused)
        model = self._model(service)
        operation = _operation(model, request, body)
        if operation is None:
            self.violations.append(f"{service}: no operation is {request.method} {request.path}")
        else:
            self.violations.extend(_violations(model, operation, request, body))
            if operation.name == "BatchGetItem" and self.hold_back:
                return await self._batch_get(request, body, self.hold_back.pop(0))
            if operation.name == "Invoke":
                return await self._invoke(request, body)
            if operation.name == "ListFunctions":
                return await self._list_functions(request, body)
        response = await self._forward(request, body)
        if service == "lambda" and response.content_type == "text/html":
            response.content_type = "application/json"  # moto's default; Lambda sends JSON
        return response

    def _refusal(self, request: web.Request, body: bytes, service: str) -> tuple[str, str] | None:
        """Why AWS would refuse the request's credentials (error code, message), or None."""
        given = request.headers.get("Authorization", "")
        scope = _SCOPE.search(given)
        if not given.startswith("AWS4-HMAC-SHA256 ") or scope is None:
            return "MissingAuthenticationToken", "Request is missing Authentication Token"
        credential = self.credentials.get(scope.group(1))
        if isinstance(credential, str):
            credential = Credential(credential)
        if credential is None:
            return "InvalidAccessKeyId", "The security token included in the request is invalid."
        if credential.session_token is not None and (
            request.headers.get("X-Amz-Security-Token") != credential.session_token
        ):
            return "InvalidToken", "The security token included in the request is invalid."
        if service == "s3" and "X-Amz-Content-SHA256" not in request.headers:
            return (
                "InvalidRequest",
                "Missing required header for this request: x-amz-content-sha256",
            )
        signed = given.split("SignedHeaders=")[1].split(",")[0].split(";")
        headers = {h: request.headers[h] for h in signed if h in request.headers}
        aws = AWSRequest(method=request.method, url=str(request.url), data=body, headers=headers)
        aws.context["timestamp"] = request.headers.get("X-Amz-Date", "")
        signer_class = S3SigV4Auth if service == "s3" else SigV4Auth
        signer = signer_class(
            Credentials(scope.group(1), credential.secret_key), service, scope.group(3)
        )
        expected = signer.signature(signer.string_to_sign(aws, signer.canonical_request(aws)), aws)
        if not hmac.compare_digest(given.split("Signature=")[-1], expected):
            return "SignatureDoesNotMatch", "The request signature we calculated does not match"
        return None

    def _model(self, service: str) -> ServiceModel:
        if service not in self._models:
            self._models[service] = get_session().get_service_model(service)
        return self._models[service]

    async def _forward(self, request: web.Request, body: bytes) -> web.Response:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host",)}
        async with self._session.request(
            request.method, self.moto_url + request.raw_path, headers=headers, data=body
        ) as answer:
            data = await answer.read()
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS}
            if request.method == "HEAD":  # the length of what a GET would send
                kept["Content-Length"] = answer.headers.get("Content-Length", "0")
                return web.Response(status=answer.status, headers=kept)
            return web.Response(status=answer.status, body=data, headers=kept)

    # --- what moto does not do -----------------------------------------------------------

    async def _batch_get(self, request: web.Request, body: bytes, hold: int) -> web.Response:
        """Answer BatchGetItem, then move `hold` of the asked keys to UnprocessedKeys, as
        DynamoDB does when a call exceeds its size or throughput."""
        response = await self._forward(request, body)
        if response.status != 200 or not isinstance(response.body, bytes):
            return response
        answer = orjson.loads(response.body)
        asked = orjson.loads(body)["RequestItems"]
        unprocessed: dict[str, Any] = {}
        held: list[Any] = []
        for table, wanted in asked.items():
            keys = wanted["Keys"][: max(0, hold - len(held))]
            if not keys:
                continue
            held.extend(keys)
            items = answer.get("Responses", {}).get(table, [])
            answer["Responses"][table] = [
                item for item in items if not any(_has_key(item, key) for key in keys)
            ]
            unprocessed[table] = {**wanted, "Keys": keys}
        answer["UnprocessedKeys"] = unprocessed
        self.held_back.append(held)
        return web.Response(
            status=200, body=orjson.dumps(answer), headers={"Content-Type": DYNAMODB_JSON}
        )

    async def _list_functions(self, request: web.Request, body: bytes) -> web.Response:
        """ListFunctions in pages of MaxItems (at most 50) with an opaque NextMarker, as
        Lambda answers (moto returns every function at once)."""
        response = await self._forward(request, body)
        if response.status != 200 or not isinstance(response.body, bytes):
            return response
        functions = orjson.loads(response.body)["Functions"]
        start = 0
        marker = request.query.get("Marker")
        if marker:
            try:
                start = int(base64.urlsafe_b64decode(marker.encode()).decode())
            except ValueError:
                invalid = {"Type": "User", "message": "Invalid Marker"}
                return web.Response(
                    status=400,
                    body=orjson.dumps(invalid),
                    headers={
                        "Content-Type": "application/json",
                        "x-amzn-ErrorType": "InvalidParameterValueException",
                    },
                )
        size = min(int(request.query.get("MaxItems") or 50), 50)
        answer: dict[str, Any] = {"Functions": functions[start : start + size]}
        if start + size < len(functions):
            answer["NextMarker"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
        return web.Response(
            status=200, body=orjson.dumps(answer), headers={"Content-Type": "application/json"}
        )

    async def _invoke(self, request: web.Request, body: bytes) -> web.Response:
        """Lambda Invoke (RequestResponse): the function's handler, run here."""
        name = unquote(request.path.split("/")[3])
        exists = await self._session_get(f"/2015-03-31/functions/{name}", request)
        if exists.status != 200:
            return exists
        handler = self.functions.get(name)
        if handler is None:
            payload: Any = {"errorMessage": f"no handler for {name}", "errorType": "Runtime"}
            return _function_error(payload, "Unhandled")
        try:
            result = handler(orjson.loads(body) if body else {})
        except Exception as exc:  # a function error: the invocation itself succeeded
            payload = {"errorMessage": str(exc), "errorType": type(exc).__name__}
            return _function_error(payload, "Unhandled")
        return web.Response(
            status=200,
            body=orjson.dumps(result),
            headers={"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST"},
        )

    async def _session_get(self, path: str, request: web.Request) -> web.Response:
        assert self._session is not None
        headers = {"Authorization": request.headers.get("Authorization", "")}
        async with self._session.get(self.moto_url + path, headers=headers) as answer:
            data = await answer.read()
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS}
            return web.Response(status=answer.status, body=data, headers=kept)


def _function_error(payload: Any, kind: str) -> web.Response:
    return web.Response(
        status=200,
        body=orjson.dumps(payload),
        headers={
            "Content-Type": "application/json",
            "X-Amz-Function-Error": kind,
            "X-Amz-Executed-Version": "$LATEST",
        },
    )


def _has_key(item: Mapping[str, Any], key: Mapping[str, Any]) -> bool:
    return all(item.get(name) == value for name, value in key.items())


def _service_of(request: web.Request) -> str:
    if request.headers.get("X-Amz-Target", "").startswith("DynamoDB_"):
        return "dynamodb"
    return "lambda" if request.path.startswith("/2015-03-31/") else "s3"


def _auth_error(service: str, code: str, message: str) -> web.Response:
    """The refusal as each service words it."""
    if service == "s3":
        xml = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
        xml += f"<Message>{message}</Message></Error>"
        status = 400 if code == "InvalidRequest" else 403
        return web.Response(status=status, body=xml.encode(), content_type="application/xml")
    if service == "dynamodb":
        named = {
            "InvalidAccessKeyId": "UnrecognizedClientException",
            "InvalidToken": "UnrecognizedClientException",
            "SignatureDoesNotMatch": "InvalidSignatureException",
            "MissingAuthenticationToken": "MissingAuthenticationTokenException",
        }[code]
        body = {"__type": f"com.amazon.coral.service#{named}", "message": message}
        return web.Response(
            status=400, body=orjson.dumps(body), headers={"Content-Type": DYNAMODB_JSON}
        )
    kind = {"SignatureDoesNotMatch": "InvalidSignatureException"}.get(
        code, "UnrecognizedClientException"
    )
    return web.Response(
        status=403,
        body=orjson.dumps({"message": message}),
        headers={"Content-Type": "application/json", "x-amzn-ErrorType": kind},
    )


# --- requests against botocore's service model -------------------------------------------


def _operation(model: ServiceModel, request: web.Request, body: bytes) -> OperationModel | None:
    """The operation a request calls: by X-Amz-Target (JSON protocols), else by method and
    URI template, the most specific template first."""
    if model.protocol == "json":
        target = request.headers.get("X-Amz-Target", "")
        prefix, _, name = target.partition(".")
        if prefix != model.metadata.get("targetPrefix") or name not in model.operation_names:
            return None
        return model.operation_model(name)
    best: tuple[tuple[int, int, int], OperationModel] | None = None
    for name in model.operation_names:
        operation = model.operation_model(name)
        http = operation.http
        if http.get("method") != request.method:
            continue
        path, _, query = str(http["requestUri"]).partition("?")
        if _uri_match(path, request.path) is None:
            continue
        literals = dict(parse_qsl(query, keep_blank_values=True))
        if any(
            k not in request.query or (v and request.query[k] != v) for k, v in literals.items()
        ):
            continue
        # PutObject and CopyObject share a URI: the one whose required headers came wins
        missing = sum(
            1
            for name in (operation.input_shape.required_members if operation.input_shape else [])
            if operation.input_shape.members[name].serialization.get("location") == "header"
            and operation.input_shape.members[name].serialization.get("name", name)
            not in request.headers
        )
        rank = (len(literals), -missing, len(re.sub(r"\{[^}]+\}", "", path)))
        if best is None or rank > best[0]:
            best = (rank, operation)
    return best[1] if best else None


def _uri_match(template: str, path: str) -> dict[str, str] | None:
    pattern = ""
    for part in re.split(r"(\{[^}]+\})", template):
        if part.startswith("{"):
            name = part[1:-1]
            greedy = name.endswith("+")
            group = name.rstrip("+")
            pattern += f"(?P<{group}>.+)" if greedy else f"(?P<{group}>[^/]+)"
        else:
            pattern += re.escape(part)
    found = re.fullmatch(pattern.rstrip("/") + "/?", path)
    return {k: unquote(v) for k, v in found.groupdict().items()} if found else None


def _violations(
    model: ServiceModel, operation: OperationModel, request: web.Request, body: bytes
) -> list[str]:
    where = f"{model.service_name}.{operation.name}"
    shape = operation.input_shape
    if shape is None:
        return []
    if model.protocol == "json":
        problems = []
        if request.headers.get("Content-Type") != DYNAMODB_JSON:
            problems.append(f"{where}: Content-Type is not {DYNAMODB_JSON}")
        try:
            sent = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            return [*problems, f"{where}: the body is not JSON"]
        return problems + _validate(where, sent, shape)
    params: dict[str, Any] = {}
    problems = []
    known_query = {str(http_q) for http_q in _literal_query(operation)}
    uri = _uri_match(str(operation.http["requestUri"]).partition("?")[0], request.path) or {}
    for name, member in shape.members.items():
        location, wire = member.serialization.get("location"), member.serialization.get("name")
        if location == "uri":
            value: Any = uri.get(wire or name)
        elif location == "querystring":
            known_query.add(wire or name)
            value = request.query.get(wire or name)
        elif location == "header":
            value = request.headers.get(wire or name)
            if value is not None and member.type_name == "list":
                value = [v.strip() for v in value.split(",")]
        elif location is None and model.protocol == "rest-json" and body:
            value = _json_body(body).get(name)
        else:
            continue
        if value is not None:
            params[name] = _typed(value, member)
    for name in request.query:
        if name not in known_query:
            problems.append(f"{where}: unknown query parameter {name!r}")
    return problems + _validate(where, params, shape)


def _literal_query(operation: OperationModel) -> list[str]:
    query = str(operation.http["requestUri"]).partition("?")[2]
    return [k for k, _ in parse_qsl(query, keep_blank_values=True)] + ["x-id"]


def _json_body(body: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _typed(value: Any, shape: Shape) -> Any:
    """A value read from a URI, query or header, as the member's type."""
    if not isinstance(value, str):
        return value
    if shape.type_name in ("integer", "long"):
        return int(value) if value.lstrip("-").isdigit() else value
    if shape.type_name == "boolean":
        return {"true": True, "false": False}.get(value, value)
    if shape.type_name == "blob":
        return value.encode()
    return value


def _validate(where: str, params: Mapping[str, Any], shape: Shape) -> list[str]:
    report = ParamValidator().validate(dict(params), shape)
    if not report.has_errors():
        return []
    return [f"{where}: {line}" for line in report.generate_report().splitlines()]
