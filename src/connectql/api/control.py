"""The static, strawberry-typed part of the schema: the control plane.

Queries read the connectors and their health, metrics and usage; mutations manage them
(admin only); subscriptions stream health, metrics and schema changes. Resolvers reach the
server's ControlPlane through the request context and never import it, so this module stays
below the runtime in the dependency order.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncGenerator, Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any, Protocol

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from connectql.connectors.connector import Connector
from connectql.connectors.metrics import LATENCY_BUCKETS_MS
from connectql.errors import ControlError, Forbidden, SpecErrors
from connectql.errors import LinkInvalid as LinkInvalidError
from connectql.graph.joins import Link
from connectql.spec.models import ConnectorSpec

if TYPE_CHECKING:
    from connectql.control.service import Change, ControlPlane, TestOutcome
    from connectql.graph.joins import JoinStatus

SECRET_MASK = "********"  # noqa: S105 - what is shown instead of a secret


class ControlContext(Protocol):
    connectors: Mapping[str, Connector]
    control: ControlPlane | None
    role: str | None


Ctx = Info[ControlContext, Any]


def _control(info: Ctx) -> ControlPlane:
    control = info.context.control
    if control is None:
        raise ControlError("this server has no control plane")
    return control


def _admin(info: Ctx) -> ControlPlane:
    if info.context.role != "admin":
        raise Forbidden("this needs an admin API key")
    return _control(info)


# --- output types ---------------------------------------------------------------------------


@strawberry.enum(description="How a spec is written.")
class SpecFormat(enum.Enum):
    YAML = "yaml"
    JSON = "json"


# The enums' values are the strings the runtime, the events and the REST API use.


@strawberry.enum(description="Whether a connector is served on this replica.")
class ConnectorState(enum.Enum):
    RUNNING = "running"
    STOPPED = "stopped"


@strawberry.enum(description="A circuit breaker's state.")
class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@strawberry.enum(description="A connector's health.")
class HealthState(enum.Enum):
    STARTING = "starting"
    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"
    STOPPED = "stopped"


@strawberry.type(description="A connector's health, and why.")
class Health:
    connector: str
    state: HealthState
    reason: str
    at: str = strawberry.field(description="ISO 8601 time of the last change.")
    replica: str = strawberry.field(description="The replica that judged it.")


def _health(fields: Mapping[str, Any]) -> Health:
    """A health record or event (the same keys) as its GraphQL type."""
    return Health(
        connector=fields["connector"],
        state=HealthState(fields["state"]),
        reason=fields["reason"],
        at=fields["at"],
        replica=fields.get("replica", ""),
    )


@strawberry.type
class ErrorCount:
    code: str
    count: int


@strawberry.type(description="Requests that took at most `le` ms, more than the bucket before.")
class LatencyBucket:
    le: float | None = strawberry.field(description="The upper bound; null: no bound.")
    count: int


@strawberry.type(description="Latency of upstream requests in milliseconds (bucket bounds).")
class Latency:
    count: int
    p50: float | None
    p95: float | None
    p99: float | None
    buckets: list[LatencyBucket] = strawberry.field(
        description="The histogram, counts since start: the difference of two readings gives "
        "the quantiles of the time between them."
    )


@strawberry.type(description="A connector's counters since it started on this replica.")
class Metrics:
    connector: str
    requests: int = strawberry.field(description="Upstream HTTP requests, retries included.")
    calls: int = strawberry.field(description="Logical calls (a call and its retries: one).")
    errors: int
    errors_by_code: list[ErrorCount]
    retries: int
    rate_limit_waits: int
    rate_limit_wait_seconds: float
    breaker: BreakerState
    latency_ms: Latency


@strawberry.type
class SpecVersion:
    version: int
    format: SpecFormat
    created_at: str
    _text: strawberry.Private[str]

    @strawberry.field(
        description="This version's spec text. Admin only: it may hold literal credentials."
    )
    def spec(self, info: Ctx) -> str:
        _admin(info)
        return self._text


@strawberry.type(description="A call of the connector that failed.")
class FailedCall:
    operation: str
    code: str
    message: str
    at: str = strawberry.field(description="ISO 8601 time of the failure.")


@strawberry.type(description="An operation of a connector and where the graph serves it.")
class OperationView:
    name: str
    kind: str = strawberry.field(description="`query`, `mutation` or `subscription`.")
    field: str | None = strawberry.field(
        description="Its GraphQL field, e.g. `query { bookstore { book } }`; null when the "
        "operation is not exposed (it serves links only)."
    )
    description: str | None


def _operation_views(spec: ConnectorSpec) -> list[OperationView]:
    """The root fields graph/types.py gives each operation: under the namespace field, or
    (`connector.namespace: false`) at the root; subscriptions at the root as `name_op`."""
    name, namespaced = spec.connector.name, spec.connector.namespace
    views = []
    for op_name, op in sorted(spec.operations.items()):
        field = None
        if op.expose and op.kind == "subscription":
            field = f"subscription {{ {f'{name}_{op_name}' if namespaced else op_name} }}"
        elif op.expose:
            inner = f"{name} {{ {op_name} }}" if namespaced else op_name
            field = f"{op.kind} {{ {inner} }}"
        views.append(
            OperationView(name=op_name, kind=op.kind, field=field, description=op.description)
        )
    return views


@strawberry.type(description="A connector served (or stored) by this server.")
class ConnectorStatus:
    name: str
    title: str | None
    version: str = strawberry.field(description="The spec's own `connector.version`.")
    source: str = strawberry.field(description="`config` (connectql.yaml) or `registry`.")
    state: ConnectorState = strawberry.field(description="On this replica.")
    breaker: BreakerState
    operations: list[str]
    registry_version: int | None = strawberry.field(
        description="The registry's current spec version (null for config connectors)."
    )
    _connector: strawberry.Private[Connector | None]
    _name: strawberry.Private[str]
    _spec: strawberry.Private[ConnectorSpec | None]

    @strawberry.field(description="Its operations with their GraphQL fields.")
    def operation_fields(self) -> list[OperationView]:
        return _operation_views(self._spec) if self._spec else []

    @strawberry.field(description="Health as judged on this replica.")
    def health(self, info: Ctx) -> Health | None:
        control = info.context.control
        found = control.health.current.get(self._name) if control else None
        return _health(asdict(found)) if found else None

    @strawberry.field
    def metrics(self) -> Metrics | None:
        return _metrics(self._connector) if self._connector else None

    @strawberry.field(
        description="The spec text of the current version. Admin only: it may hold literal "
        "credentials (a token written into `source.auth` instead of `{config.X}`)."
    )
    def spec(self, info: Ctx) -> str | None:
        if info.context.role != "admin":
            raise Forbidden("this needs an admin API key")
        control = info.context.control
        stored = control.stored.get(self._name) if control else None
        return stored.spec_text if stored else None

    @strawberry.field(description="This connector's part of the schema, as SDL.")
    def sdl(self, info: Ctx) -> str | None:
        control = info.context.control
        if control is None or self._connector is None:
            return None
        return control.runtime.connector_sdl(self._name)

    @strawberry.field(description="Stored spec versions, oldest first.")
    async def versions(self, info: Ctx) -> list[SpecVersion]:
        control = info.context.control
        if control is None or control.registry is None or self._name not in control.stored:
            return []
        return [
            SpecVersion(
                version=v.version,
                format=SpecFormat(v.spec_format),
                created_at=v.created_at.isoformat(),
                _text=v.spec_text,
            )
            for v in await control.registry.versions(self._name)
        ]

    @strawberry.field(description="Its latest failed calls on this replica, newest first.")
    def last_errors(self, info: Ctx) -> list[FailedCall]:
        control = info.context.control
        failed = control.recent_errors.of(self._name) if control else []
        return [FailedCall(**asdict(call)) for call in failed]

    @strawberry.field(description="Config values, secrets masked. Admin only.")
    def config(self, info: Ctx) -> JSON | None:
        _admin(info)
        connector = self._connector
        control = info.context.control
        stored = control.stored.get(self._name) if control else None
        values = stored.config if stored else (connector.config if connector else {})
        spec = connector.spec if connector else None
        secret = spec.secret_keys() if spec else (stored.secret_keys if stored else set())
        return JSON({k: SECRET_MASK if k in secret else v for k, v in sorted(values.items())})


def _metrics(connector: Connector) -> Metrics:
    m = connector.metrics
    latency = m.latency
    return Metrics(
        connector=connector.name,
        requests=sum(m.requests.values()),
        calls=sum(m.calls.values()),
        errors=sum(m.errors.values()),
        errors_by_code=[ErrorCount(code=c, count=n) for c, n in sorted(m.errors.items())],
        retries=m.retries,
        rate_limit_waits=m.rate_limit_waits,
        rate_limit_wait_seconds=m.rate_limit_wait_seconds,
        breaker=_breaker(connector),
        latency_ms=Latency(
            count=latency.total,
            p50=latency.quantile(0.5),
            p95=latency.quantile(0.95),
            p99=latency.quantile(0.99),
            buckets=[
                LatencyBucket(le=bound, count=count)
                for bound, count in zip((*LATENCY_BUCKETS_MS, None), latency.counts, strict=True)
            ],
        ),
    )


def _breaker(connector: Connector) -> BreakerState:
    return BreakerState(connector.breaker.state) if connector.breaker else BreakerState.CLOSED


def _status(info: Ctx, name: str) -> ConnectorStatus | None:
    control = info.context.control
    # The control plane reports what is live now, not what this request's schema pinned.
    live = control.runtime.connectors if control else info.context.connectors
    connector = live.get(name)
    stored = control.stored.get(name) if control else None
    if connector is None and stored is None:
        return None
    spec = connector.spec if connector else None
    if spec is None and stored is not None and control is not None:
        spec = control.spec_of(stored)
    return ConnectorStatus(
        name=name,
        title=spec.connector.title if spec else None,
        version=spec.connector.version if spec else "",
        source="registry" if stored else "config",
        state=ConnectorState(connector.state) if connector else ConnectorState.STOPPED,
        breaker=_breaker(connector) if connector else BreakerState.CLOSED,
        operations=sorted(spec.operations) if spec else [],
        registry_version=stored.version if stored else None,
        _connector=connector,
        _name=name,
        _spec=spec,
    )


@strawberry.type
class UsageRow:
    connector: str
    operation: str
    calls: int
    errors: int


@strawberry.type
class SchemaChangeView:
    type: str
    description: str


@strawberry.type(description="What a change did, or would have done, to the live schema.")
class ConnectorChanged:
    connector: ConnectorStatus | None
    applied: bool = strawberry.field(
        description="False when breaking changes were refused (pass force: true to apply)."
    )
    schema_version: int
    breaking_changes: list[SchemaChangeView]
    dangerous_changes: list[SchemaChangeView]


@strawberry.type(description="One problem in a spec, where it is.")
class SpecProblem:
    message: str
    file: str
    line: int | None
    column: int | None
    path: str


@strawberry.type(description="The spec was not accepted; nothing changed.")
class SpecInvalid:
    errors: list[SpecProblem]


ConnectorResult = Annotated[ConnectorChanged | SpecInvalid, strawberry.union("ConnectorResult")]


@strawberry.type
class TraceStep:
    method: str
    url_template: str
    status: int | None
    outcome: str
    ms: float


@strawberry.type
class TestResult:
    ok: bool
    data: JSON | None
    error: JSON | None
    trace: list[TraceStep]


@strawberry.type
class SpecValidation:
    valid: bool
    errors: list[SpecProblem]
    connector: str | None
    operations: list[str]
    types: list[str]


@strawberry.type(description="The live schema of this replica changed.")
class SchemaChanged:
    schema_version: int
    connector: str
    breaking_changes: list[SchemaChangeView]
    dangerous_changes: list[SchemaChangeView]


def _problems(exc: SpecErrors) -> list[SpecProblem]:
    return [
        SpecProblem(
            message=e.message,
            file=e.location.file,
            line=e.location.line,
            column=e.location.column,
            path=e.location.path,
        )
        for e in exc.errors
    ]


def _changed(info: Ctx, change: Change, *, gone: bool = False) -> ConnectorChanged:
    return ConnectorChanged(
        connector=None if gone and change.applied else _status(info, change.connector),
        applied=change.applied,
        schema_version=change.schema_version,
        breaking_changes=[
            SchemaChangeView(type=c.type, description=c.description) for c in change.breaking
        ],
        dangerous_changes=[
            SchemaChangeView(type=c.type, description=c.description) for c in change.dangerous
        ],
    )


# --- roots -----------------------------------------------------------------------------------


@strawberry.type
class Query:
    @strawberry.field(description="Every connector: served ones and stored stopped ones.")
    def connectors(self, info: Ctx) -> list[ConnectorStatus]:
        control = info.context.control
        names = control.names() if control else sorted(info.context.connectors)
        return [s for s in (_status(info, n) for n in names) if s is not None]

    @strawberry.field(description="One connector by name, or null.")
    def connector(self, info: Ctx, name: str) -> ConnectorStatus | None:
        return _status(info, name)

    @strawberry.field(description="Every join between connectors, and how it is served.")
    def links(self, info: Ctx) -> list[LinkStatus]:
        return _links(info)

    @strawberry.field(
        description="The caller's role: `admin` or `viewer` (what a page may offer it)."
    )
    def role(self, info: Ctx) -> str | None:
        return info.context.role

    @strawberry.field(description="The live schema's version on this replica.")
    def schema_version(self, info: Ctx) -> int:
        return _control(info).runtime.version

    @strawberry.field(description="Calls and errors per connector and operation in a window.")
    def usage(self, info: Ctx, window_seconds: int = 3600) -> list[UsageRow]:
        rows = _control(info).usage.usage(max(60, window_seconds))
        return [UsageRow(**asdict(row)) for row in rows]


# --- links: joins between connectors ---------------------------------------------------------


@strawberry.enum(description="How a link is served on this replica.")
class LinkState(enum.Enum):
    ACTIVE = "active"
    UNAVAILABLE = "unavailable"
    """In the schema, but its connector is not running: the field answers
    CONNECTOR_UNAVAILABLE."""
    OMITTED = "omitted"
    """Not in the schema (see `reason`)."""


@strawberry.type(description="A join: a field of one connector's type resolved by another's.")
class LinkStatus:
    type: str = strawberry.field(description="The GraphQL type the field is on.")
    field: str
    connector: str = strawberry.field(description="The connector resolving it.")
    operation: str
    args: JSON
    description: str | None
    source: str = strawberry.field(description="`config` (connectql.yaml) or `registry`.")
    state: LinkState = strawberry.field(description="On this replica.")
    reason: str | None = strawberry.field(description="Why it is not active.")


def _link_status(status: JoinStatus, source: str) -> LinkStatus:
    link = status.link
    return LinkStatus(
        type=link.type,
        field=link.field,
        connector=link.connector,
        operation=link.operation,
        args=JSON(link.args),
        description=link.description,
        source=source,
        state=LinkState(status.state),
        reason=status.reason,
    )


def _links(info: Ctx) -> list[LinkStatus]:
    return [_link_status(s, source) for s, source in _control(info).link_statuses()]


@strawberry.input(description="A join: `type.field` resolved by `connector.operation`.")
class LinkInput:
    type: str = strawberry.field(description="A connector's GraphQL type, e.g. TrackerUser.")
    field: str = strawberry.field(description="The new field's name.")
    connector: str = strawberry.field(description="The connector resolving it.")
    operation: str = strawberry.field(description="One of its query operations.")
    args: JSON | None = strawberry.field(
        default=None,
        description="The operation's arguments: values, or `{parent.FIELD}` templates reading "
        "the parent's GraphQL fields.",
    )
    description: str | None = None


@strawberry.type(description="What a link change did, or would have done, to the schema.")
class LinkChanged:
    link: LinkStatus | None
    applied: bool = strawberry.field(
        description="False when breaking changes were refused (pass force: true to apply)."
    )
    schema_version: int
    breaking_changes: list[SchemaChangeView]
    dangerous_changes: list[SchemaChangeView]


@strawberry.type(name="LinkProblem", description="One problem of a link, at one of its keys.")
class LinkProblemView:
    message: str
    path: str = strawberry.field(description="The key of the link: `operation`, `args.email`.")


@strawberry.type(description="The link does not fit the running connectors; nothing changed.")
class LinkInvalid:
    name: str = strawberry.field(description="The link, as TYPE.FIELD.")
    errors: list[LinkProblemView]


LinkResult = Annotated[LinkChanged | LinkInvalid, strawberry.union("LinkResult")]


def _link_changed(info: Ctx, change: Change, key: tuple[str, str]) -> LinkChanged:
    found = next((s for s in _links(info) if (s.type, s.field) == key), None)
    return LinkChanged(
        link=found,
        applied=change.applied,
        schema_version=change.schema_version,
        breaking_changes=[
            SchemaChangeView(type=c.type, description=c.description) for c in change.breaking
        ],
        dangerous_changes=[
            SchemaChangeView(type=c.type, description=c.description) for c in change.dangerous
        ],
    )


def _spec_result(exc: SpecErrors) -> SpecInvalid:
    return SpecInvalid(errors=_problems(exc))


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Store a new connector and (by default) start it.")
    async def create_connector(
        self,
        info: Ctx,
        spec: str,
        format: SpecFormat = SpecFormat.YAML,
        config: JSON | None = None,
        start: bool = True,
    ) -> ConnectorResult:
        control = _admin(info)
        try:
            change = await control.create(spec, format.value, _mapping(config), start=start)
        except SpecErrors as exc:
            return _spec_result(exc)
        return _changed(info, change)

    @strawberry.mutation(description="Store a new spec version; breaking changes need force.")
    async def update_connector(
        self,
        info: Ctx,
        name: str,
        spec: str,
        format: SpecFormat = SpecFormat.YAML,
        force: bool = False,
    ) -> ConnectorResult:
        control = _admin(info)
        try:
            change = await control.update(name, spec, format.value, force=force)
        except SpecErrors as exc:
            return _spec_result(exc)
        return _changed(info, change)

    @strawberry.mutation(
        description="Merge config values (null removes a key); secrets are encrypted at rest."
    )
    async def configure_connector(self, info: Ctx, name: str, config: JSON) -> ConnectorResult:
        change = await _admin(info).configure(name, _mapping(config))
        return _changed(info, change)

    @strawberry.mutation
    async def start_connector(self, info: Ctx, name: str) -> ConnectorResult:
        return _changed(info, await _admin(info).start_connector(name))

    @strawberry.mutation(
        description="Stop serving a connector; it leaves the schema (force if breaking)."
    )
    async def stop_connector(self, info: Ctx, name: str, force: bool = False) -> ConnectorResult:
        return _changed(info, await _admin(info).stop_connector(name, force=force))

    @strawberry.mutation
    async def delete_connector(self, info: Ctx, name: str, force: bool = False) -> ConnectorResult:
        return _changed(info, await _admin(info).delete(name, force=force), gone=True)

    @strawberry.mutation(description="Serve a stored earlier version again.")
    async def rollback_connector(
        self, info: Ctx, name: str, version: int, force: bool = False
    ) -> ConnectorResult:
        try:
            change = await _admin(info).rollback(name, version, force=force)
        except SpecErrors as exc:
            return _spec_result(exc)
        return _changed(info, change)

    @strawberry.mutation(
        description="Join connectors: add a field to one connector's type, resolved by "
        "another connector's operation (kept in the registry)."
    )
    async def create_link(self, info: Ctx, link: LinkInput, force: bool = False) -> LinkResult:
        control = _admin(info)
        try:
            made = Link(
                type=link.type,
                field=link.field,
                connector=link.connector,
                operation=link.operation,
                args=_mapping(link.args),
                description=link.description,
            )
            change = await control.create_link(made, force=force)
        except LinkInvalidError as exc:
            return LinkInvalid(
                name=exc.link,
                errors=[LinkProblemView(message=m, path=p) for p, m in exc.problems],
            )
        return _link_changed(info, change, made.key)

    @strawberry.mutation(description="Remove a registry link's field (breaking: needs force).")
    async def delete_link(
        self, info: Ctx, type: str, field: str, force: bool = False
    ) -> LinkChanged:
        change = await _admin(info).delete_link(type, field, force=force)
        return _link_changed(info, change, (type, field))

    @strawberry.mutation(description="Call one operation once and return a request trace.")
    async def test_connector(
        self, info: Ctx, name: str, operation: str, args: JSON | None = None
    ) -> TestResult:
        outcome = await _admin(info).test(name, operation, _mapping(args))
        return _test_result(outcome)

    @strawberry.mutation(
        description="Call one operation of a spec that is not stored (a draft) once, with "
        "`config` as its config values, and return a request trace; nothing is stored."
    )
    async def test_spec(
        self,
        info: Ctx,
        spec: str,
        operation: str,
        args: JSON | None = None,
        config: JSON | None = None,
        format: SpecFormat = SpecFormat.YAML,
    ) -> TestResult:
        control = _admin(info)
        outcome = await control.test_draft(
            spec, format.value, _mapping(config), operation, _mapping(args)
        )
        return _test_result(outcome)

    @strawberry.mutation(description="Check a spec without storing anything.")
    async def validate_spec(
        self, info: Ctx, spec: str, format: SpecFormat = SpecFormat.YAML
    ) -> SpecValidation:
        _admin(info)
        from connectql.spec.loader import load_spec_text

        try:  # off the event loop: a large spec takes seconds, other requests go on
            parsed = await asyncio.to_thread(load_spec_text, spec, f"spec.{format.value}")
        except SpecErrors as exc:
            return SpecValidation(
                valid=False, errors=_problems(exc), connector=None, operations=[], types=[]
            )
        return SpecValidation(
            valid=True,
            errors=[],
            connector=parsed.name,
            operations=sorted(parsed.operations),
            types=sorted(parsed.types),
        )


def _test_result(outcome: TestOutcome) -> TestResult:
    return TestResult(
        ok=outcome.ok,
        data=outcome.data,
        error=JSON(outcome.error) if outcome.error is not None else None,
        trace=[TraceStep(**asdict(step)) for step in outcome.trace],
    )


def _mapping(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ControlError("expected a JSON object")
    return value


MIN_INTERVAL_MS = 100


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="The connector's health now, then on every change; without a name, "
        "every connector's."
    )
    async def connector_health(
        self, info: Ctx, name: str | None = None
    ) -> AsyncGenerator[Health, None]:
        control = _control(info)
        if name is not None:
            control.require(name)  # an unknown name would otherwise wait forever in silence
        from connectql.events import HEALTH

        async with control.bus.subscribe(HEALTH) as events:
            for current in list(control.health.current.values()):
                if name is None or current.connector == name:
                    yield _health(asdict(current))
            while True:
                event = await events.get()
                if name is None or event.get("connector") == name:
                    yield _health(event)

    @strawberry.subscription(description="The connector's metrics every intervalMs.")
    async def connector_metrics(
        self, info: Ctx, name: str, interval_ms: int = 1000
    ) -> AsyncGenerator[Metrics, None]:
        control = _control(info)
        interval = max(MIN_INTERVAL_MS, interval_ms) / 1000
        while True:
            yield _metrics(control.running(name))
            await asyncio.sleep(interval)

    @strawberry.subscription(
        description="Every running connector's metrics every intervalMs, in one list (one "
        "subscription for a page showing them all)."
    )
    async def connectors_metrics(
        self, info: Ctx, interval_ms: int = 1000
    ) -> AsyncGenerator[list[Metrics], None]:
        control = _control(info)
        interval = max(MIN_INTERVAL_MS, interval_ms) / 1000
        while True:
            live = control.runtime.connectors
            yield [_metrics(live[name]) for name in sorted(live)]
            await asyncio.sleep(interval)

    @strawberry.subscription(description="Every change of this replica's live schema.")
    async def schema_changed(self, info: Ctx) -> AsyncGenerator[SchemaChanged, None]:
        control = _control(info)
        from connectql.events import SCHEMA

        async with control.bus.subscribe(SCHEMA) as events:
            while True:
                event = await events.get()
                yield SchemaChanged(
                    schema_version=event["schema_version"],
                    connector=event["connector"],
                    breaking_changes=[SchemaChangeView(**c) for c in event["breaking"]],
                    dangerous_changes=[SchemaChangeView(**c) for c in event["dangerous"]],
                )
