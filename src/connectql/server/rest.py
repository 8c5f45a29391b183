"""The REST management API of the system connectql replaces, as thin routes over the control
plane (the same service the GraphQL mutations use). `{id}` is the connector's name.

Errors: 400 bad request, 401 no or wrong key, 403 not allowed, 404 unknown connector,
409 name taken or breaking change refused (the body carries the diff), 422 invalid spec
(the body lists every problem with its location).
"""

# No `from __future__ import annotations`: FastAPI reads these signatures at run time, and
# the dependency aliases are local to install().
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from connectql.control.access import ADMIN, AccessControl, key_from_headers
from connectql.control.service import Change, ControlPlane
from connectql.errors import (
    ConfigError,
    Conflict,
    ConnectqlError,
    ControlError,
    Forbidden,
    NotFound,
    SpecErrors,
)


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
        None, description="Config values to merge after the update (null removes a key)."
    )
    force: bool = False


class RequestBody(BaseModel):
    operation: str = Field(min_length=1)
    args: dict[str, Any] = {}


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
    if isinstance(exc, SpecErrors):
        return 422
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, Forbidden):
        return 403
    return 400


def install(app: FastAPI, control: ControlPlane, access: AccessControl) -> None:
    """Add /api/connectors… to `app`, and the error handler that shapes its errors."""

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
            applied=change.applied,
            schema_version=change.schema_version,
            breaking_changes=[SchemaChangeView(**vars(c)) for c in change.breaking],
            dangerous_changes=[SchemaChangeView(**vars(c)) for c in change.dangerous],
            connector=None if gone and change.applied else view(change.connector),
        )
        return JSONResponse(body.model_dump(), status_code=200 if change.applied else 409)

    @router.post("", status_code=201, response_model=ChangeView)
    async def create_connector(body: CreateBody, _: Admin) -> JSONResponse:
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
        change = await control.update(id, body.spec, body.format, force=body.force)
        if change.applied and body.config:
            change = await control.configure(id, body.config)
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
    async def proxy_request(id: str, body: RequestBody, _: Admin) -> RequestResult:
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
        message = exc.message if isinstance(exc, SpecErrors) else str(exc)
        code = exc.code
        status = _status_of(exc)
        if isinstance(exc, Forbidden) and "not valid" in message:
            status, code = 401, "UNAUTHENTICATED"
        if isinstance(exc, ConfigError):
            status = 400
        body = ErrorBody(code=code, message=message, problems=problems)
        return JSONResponse(body.model_dump(), status_code=status)

    @app.exception_handler(_UnauthenticatedError)
    async def unauthenticated(request: Request, exc: _UnauthenticatedError) -> JSONResponse:
        body = ErrorBody(code="UNAUTHENTICATED", message="an API key is needed")
        return JSONResponse(body.model_dump(), status_code=401)


class _UnauthenticatedError(Exception):
    """No API key, and anonymous access is off."""
