"""The REST management API of the system connectql replaces, as thin routes over the control
plane (the same service the GraphQL mutations use). `{id}` is the connector's name.

The old system's own bodies are accepted too (`POST /api/connectors` without `spec`,
`/request` with `endpoint_name`); control/legacy.py translates them.

Errors: 400 bad request, 401 no or wrong key, 403 not allowed, 404 unknown connector,
409 name taken or breaking change refused (the body carries the diff), 422 invalid spec or
body (the body lists every problem with its location; request values are never echoed).
"""

# No `from __future__ import annotations`: FastAPI reads these signatures at run time, and
# the dependency aliases are local to install().
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Discriminator, Field, Tag

from connectql.control import legacy
from connectql.control.access import ADMIN, AccessControl, key_from_headers
from connectql.control.keys import KeyService
from connectql.control.service import Change, ControlPlane
from connectql.errors import (
    ConfigError,
    Conflict,
    ConnectqlError,
    ControlError,
    Forbidden,
    LinkInvalid,
    NotFound,
    SpecErrors,
)
from connectql.registry import StoredKey
from connectql.server.rest_links import install_links


class Problem(BaseModel):
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    path: str | None = None


class ErrorBody(BaseModel):
    code: str
    message: str
    problems: list[Problem] = []


class HealthView(BaseModel):
    state: str
    reason: str
    at: str | None = None


class ConnectorView(BaseModel):
    id: str
    name: str
    source: Literal["config", "registry"]
    state: Literal["running", "stopped"]
    desired_state: str | None
    registry_version: int | None
    spec_version: str | None
    operations: list[str]
    health: HealthView | None


class SchemaChangeView(BaseModel):
    type: str
    description: str


class ChangeView(BaseModel):
    connector_id: str
    applied: bool
    schema_version: int
    breaking_changes: list[SchemaChangeView]
    dangerous_changes: list[SchemaChangeView]
    connector: ConnectorView | None


class CreateBody(BaseModel):
    spec: str = Field(min_length=1, description="The connector spec, YAML or JSON text.")
    format: Literal["yaml", "json"] = "yaml"
    config: dict[str, Any] = {}
    start: bool = True


class UpdateBody(BaseModel):
    spec: str = Field(min_length=1)
    format: Literal["yaml", "json"] = "yaml"
    config: dict[str, Any] | None = Field(
        None,
        description="Config values to merge (null removes a key), in the same change: the "
        "new spec and the config are both stored, or neither.",
    )
    force: bool = False


class RequestBody(BaseModel):
    operation: str = Field(min_length=1)
    args: dict[str, Any] = {}


OWN, LEGACY = "own", "legacy"


def _own_if(key: str) -> Callable[[Any], str]:
    """connectql's own body has `key`; any other is the old system's (whose errors then
    speak of its fields only)."""

    def shape(body: Any) -> str:
        has = key in body if isinstance(body, dict) else hasattr(body, key)
        return OWN if has else LEGACY

    return shape


CreateRequest = Annotated[
    Annotated[CreateBody, Tag(OWN)] | Annotated[legacy.LegacyConnector, Tag(LEGACY)],
    Discriminator(_own_if("spec")),
]
CallRequest = Annotated[
    Annotated[RequestBody, Tag(OWN)] | Annotated[legacy.LegacyRequest, Tag(LEGACY)],
    Discriminator(_own_if("operation")),
]


class TraceView(BaseModel):
    method: str
    url_template: str
    status: int | None
    outcome: str
    ms: float


class RequestResult(BaseModel):
    ok: bool
    data: Any = None
    error: dict[str, Any] | None = None
    trace: list[TraceView]


class MetricsView(BaseModel):
    requests: int
    calls: int
    errors: dict[str, int]
    retries: int
    rate_limit_waits: int
    rate_limit_wait_seconds: float
    breaker: str
    latency_ms: dict[str, float | int | None]


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (400, 401, 403, 404, 409, 422)
}


def _status_of(exc: ConnectqlError) -> int:
    if isinstance(exc, SpecErrors | legacy.InvalidBody | LinkInvalid):
        return 422
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, Forbidden):
        return 403
    return 400


class KeyBody(BaseModel):
    name: str = Field(min_length=1, max_length=64, description="What the key is for.")
    role: Literal["admin", "viewer"] = "viewer"


class KeyView(BaseModel):
    id: str
    name: str
    role: str
    created_at: str


class CreatedKeyView(KeyView):
    key: str = Field(description="The key itself: shown this once, never stored in clear.")


def _key_view(stored: StoredKey) -> KeyView:
    return KeyView(
        id=stored.id, name=stored.name, role=stored.role, created_at=stored.created_at.isoformat()
    )


def install(app: FastAPI, control: ControlPlane, access: AccessControl, keys: KeyService) -> None:
    """Add /api/connectors… and /api/keys… to `app`, and the error handler that shapes
    their errors."""

    def role(
        request: Request,
        authorization: Annotated[str | None, Header()] = None,
        x_api_key: Annotated[str | None, Header()] = None,
    ) -> str | None:
        return access.role_for(key_from_headers(request.headers))

    def reader(who: Annotated[str | None, Depends(role)]) -> str:
        if who is None:
            raise _UnauthenticatedError
        return who

    def admin(who: Annotated[str, Depends(reader)]) -> str:
        if who != ADMIN:
            raise Forbidden("this needs an admin API key")
        return who

    router = APIRouter(prefix="/api/connectors", tags=["connectors"], responses=ERRORS)
    Reader = Annotated[str, Depends(reader)]
    Admin = Annotated[str, Depends(admin)]

    def view(name: str) -> ConnectorView:
        connector = control.runtime.connectors.get(name)
        stored = control.stored.get(name)
        if connector is None and stored is None:
            raise NotFound(f"no connector named {name!r}")
        spec = connector.spec if connector else (control.spec_of(stored) if stored else None)
        health = control.health.current.get(name)
        return ConnectorView(
            id=name,
            name=name,
            source="registry" if stored else "config",
            state="running" if connector else "stopped",
            desired_state=stored.desired_state if stored else None,
            registry_version=stored.version if stored else None,
            spec_version=spec.connector.version if spec else None,
            operations=sorted(spec.operations) if spec else [],
            health=HealthView(state=health.state, reason=health.reason, at=health.at)
            if health
            else None,
        )

    def changed(change: Change, *, gone: bool = False) -> JSONResponse:
        body = ChangeView(
            connector_id=change.connector,
            applied=change.applied,
            schema_version=change.schema_version,
            breaking_changes=[SchemaChangeView(**vars(c)) for c in change.breaking],
            dangerous_changes=[SchemaChangeView(**vars(c)) for c in change.dangerous],
            connector=None if gone and change.applied else view(change.connector),
        )
        return JSONResponse(body.model_dump(), status_code=200 if change.applied else 409)

    @router.post("", status_code=201, response_model=ChangeView)
    async def create_connector(body: CreateRequest, _: Admin) -> JSONResponse:
        if isinstance(body, legacy.LegacyConnector):
            change = await legacy.create(control, body)
        else:
            change = await control.create(body.spec, body.format, body.config, start=body.start)
        response = changed(change)
        response.status_code = 201
        return response

    @router.get("", response_model=list[ConnectorView])
    async def list_connectors(_: Reader) -> list[ConnectorView]:
        return [view(name) for name in control.names()]

    @router.get("/{id}", response_model=ConnectorView)
    async def get_connector(id: str, _: Reader) -> ConnectorView:
        return view(id)

    @router.put("/{id}", response_model=ChangeView)
    async def update_connector(id: str, body: UpdateBody, _: Admin) -> JSONResponse:
        change = await control.update(
            id, body.spec, body.format, force=body.force, config=body.config
        )
        return changed(change)

    @router.delete("/{id}", response_model=ChangeView)
    async def delete_connector(
        id: str, _: Admin, force: Annotated[bool, Query()] = False
    ) -> JSONResponse:
        return changed(await control.delete(id, force=force), gone=True)

    @router.post("/{id}/start", response_model=ChangeView)
    async def start_connector(id: str, _: Admin) -> JSONResponse:
        return changed(await control.start_connector(id))

    @router.post("/{id}/stop", response_model=ChangeView)
    async def stop_connector(
        id: str, _: Admin, force: Annotated[bool, Query()] = False
    ) -> JSONResponse:
        return changed(await control.stop_connector(id, force=force))

    @router.post("/{id}/request", response_model=RequestResult)
    async def proxy_request(id: str, body: CallRequest, _: Admin) -> RequestResult:
        if isinstance(body, legacy.LegacyRequest):
            outcome = await legacy.call(control, id, body)
        else:
            outcome = await control.test(id, body.operation, body.args)
        return RequestResult(
            ok=outcome.ok,
            data=outcome.data,
            error=outcome.error,
            trace=[TraceView(**vars(step)) for step in outcome.trace],
        )

    @router.get("/{id}/health", response_model=HealthView)
    async def connector_health(id: str, _: Reader) -> HealthView:
        current = view(id).health
        return current or HealthView(state="stopped", reason="not running")

    @router.get("/{id}/metrics", response_model=MetricsView)
    async def connector_metrics(id: str, _: Reader) -> MetricsView:
        view(id)
        connector = control.runtime.connectors.get(id)
        if connector is None:
            raise ControlError(f"connector {id!r} is stopped; it has no metrics")
        snapshot = connector.metrics.snapshot()
        return MetricsView(
            requests=snapshot["requests"],
            calls=sum(connector.metrics.calls.values()),
            errors=snapshot["errors"],
            retries=snapshot["retries"],
            rate_limit_waits=snapshot["rate_limit_waits"],
            rate_limit_wait_seconds=snapshot["rate_limit_wait_seconds"],
            breaker=snapshot["breaker_state"],
            latency_ms=snapshot["latency_ms"],
        )

    app.include_router(router)

    key_router = APIRouter(prefix="/api/keys", tags=["keys"], responses=ERRORS)

    @key_router.post("", status_code=201, response_model=CreatedKeyView)
    async def create_key(body: KeyBody, _: Admin) -> CreatedKeyView:
        stored, key = await keys.create(body.name, body.role)
        return CreatedKeyView(**_key_view(stored).model_dump(), key=key)

    @key_router.get("", response_model=list[KeyView])
    async def list_keys(_: Admin) -> list[KeyView]:
        return [_key_view(k) for k in await keys.list()]

    @key_router.delete("/{name}", status_code=204)
    async def revoke_key(name: str, _: Admin) -> Response:
        await keys.revoke(name)
        return Response(status_code=204)

    app.include_router(key_router)
    install_links(app, control, Reader, Admin, ERRORS)

    @app.exception_handler(ConnectqlError)
    async def control_error(request: Request, exc: ConnectqlError) -> JSONResponse:
        problems = []
        if isinstance(exc, SpecErrors):
            problems = [
                Problem(
                    message=e.message,
                    file=e.location.file,
                    line=e.location.line,
                    column=e.location.column,
                    path=e.location.path,
                )
                for e in exc.errors
            ]
        if isinstance(exc, LinkInvalid):
            problems = [Problem(message=message, path=path) for path, message in exc.problems]
        message = exc.message if isinstance(exc, SpecErrors) else str(exc)
        code = exc.code
        status = _status_of(exc)
        if isinstance(exc, Forbidden) and "not valid" in message:
            status, code = 401, "UNAUTHENTICATED"
        if isinstance(exc, ConfigError):
            status = 400
        body = ErrorBody(code=code, message=message, problems=problems)
        return JSONResponse(body.model_dump(), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default answer echoes the input, and a body may hold credentials
        problems = [
            Problem(message=_message(e["msg"]), path=_where(e["loc"])) for e in exc.errors()
        ]
        message = "; ".join(f"{p.path}: {p.message}" if p.path else p.message for p in problems)
        body = ErrorBody(code="BAD_USER_INPUT", message=message, problems=problems)
        return JSONResponse(body.model_dump(), status_code=422)

    @app.exception_handler(_UnauthenticatedError)
    async def unauthenticated(request: Request, exc: _UnauthenticatedError) -> JSONResponse:
        body = ErrorBody(code="UNAUTHENTICATED", message="an API key is needed")
        return JSONResponse(body.model_dump(), status_code=401)


def _where(loc: tuple[int | str, ...] | list[int | str]) -> str:
    """`("body", "legacy", "endpoints", 0, "method")` → `endpoints[0].method`."""
    parts = list(loc)
    if parts[:1] == ["body"]:
        parts = parts[2:] if parts[1:2] in ([OWN], [LEGACY]) else parts[1:]
    where = ""
    for part in parts:
        where += f"[{part}]" if isinstance(part, int) else f".{part}"
    return where.lstrip(".")


def _message(msg: str) -> str:
    return msg.removeprefix("Value error, ")


class _UnauthenticatedError(Exception):
    """No API key, and anonymous access is off."""
