"""The FastAPI application: /graphql, /healthz, /readyz, /metrics and the REST management API.
Wiring only; the logic lives in the control plane and the runtime."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from contextlib import asynccontextmanager
from importlib.util import find_spec
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.telemetry import TelemetryConfig
from starlette.middleware.cors import CORSMiddleware

from connectql.api import API_ROOTS
from connectql.config import AppConfig, CorsSettings, TimeoutSettings
from connectql.connectors.egress import EgressPolicy
from connectql.control.access import ADMIN, AccessControl, admin_key
from connectql.control.keys import KeyService
from connectql.control.service import ControlPlane
from connectql.errors import ConfigError
from connectql.events import open_bus
from connectql.registry import Registry, SecretBox, database_url
from connectql.resolvers.cursors import Cursors
from connectql.resolvers.downloads import PATH_PREFIX as DOWNLOADS_PREFIX
from connectql.runtime import Runtime
from connectql.server import assets, console, rest, swagger
from connectql.server.downloads import download_route
from connectql.server.graphql_app import GraphQLMount, LiveGraphQL
from connectql.server.guard import Guard
from connectql.server.prometheus import CONTENT_TYPE, SharedMetrics, metrics_registry, render
from connectql.server.request_id import RequestIdMiddleware
from connectql.server.worker import WorkerContext
from connectql.state import StateDir

log = logging.getLogger("connectql.server")

ADMIN_KEY_FILE = "connectql.admin-key"
PUBLIC_ENDPOINTS = {"metrics": ("/metrics",), "docs": ("/docs", "/openapi.json")}
"""`server.public` names → paths. Without them, these need a role like any request."""
UPLOAD_HEADERS = ["Apollo-Require-Preflight", "X-Apollo-Operation-Name"]
"""What browser upload clients send so their multipart requests pass the CSRF check."""

Startup = Callable[[Runtime], Awaitable[Callable[[], Awaitable[None]] | None]]


GC_YOUNG_OBJECTS = 20_000
"""Objects allocated (net) before the cyclic GC scans the young generation; Python's 700
made it scan in-flight requests several times each (about a fifth of the CPU time
of a nested query under load)."""


NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
"""Without OpenTelemetry's SDK no provider can be configured, and FastAPI's check for one on
every request costs a few percent of a small query's CPU."""


def create_app(
    runtime: Runtime,
    *,
    control: ControlPlane | None = None,
    access: AccessControl | None = None,
    graphiql: bool = True,
    before_start: Startup | None = None,
    cors: CorsSettings | None = None,
    admin_key_file: Callable[[], Path] | None = None,
    public: Collection[str] = (),
    timeouts: TimeoutSettings | None = None,
    worker: WorkerContext | None = None,
) -> FastAPI:
    """The app serving `runtime`; `before_start` may prepare it (e.g. the demo upstream)
    and return a function that undoes that on shutdown. With no admin key configured, one is
    kept in `admin_key_file()` (generated on first start), else management stays closed.
    `public` names the endpoints (`metrics`, `docs`) served without a key even when the
    anonymous role is off. A `worker` of `serve --workers N` says so in /readyz and merges
    every worker's figures into /metrics."""
    runtime.use_roots(API_ROOTS)
    plane = control or ControlPlane(runtime)
    keys = access or AccessControl.from_env()
    key_service = KeyService(
        plane.registry, keys, plane.bus, reconcile_seconds=plane.reconcile_seconds
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        undo = await before_start(runtime) if before_start else None
        await runtime.start()
        await plane.start()
        await key_service.start()
        if not keys.has_admin:
            _adopt_admin_key(keys, admin_key_file)
        # The schema and connectors live as long as the process: keep them out of the
        # cyclic GC's scans, which otherwise stall requests (visible in p99). A request
        # leaves no cycles (tests/server/test_request_garbage.py), so the young generation
        # may hold every in-flight request's objects before it is scanned.
        gc.freeze()
        gc.set_threshold(GC_YOUNG_OBJECTS, *gc.get_threshold()[1:])
        flushing = asyncio.create_task(shared.keep_flushing()) if shared else None
        try:
            yield
        finally:
            if flushing is not None and shared is not None:
                flushing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await flushing
                shared.flush()  # a worker that stops leaves its final counts
            await key_service.stop()
            await plane.stop()
            await runtime.stop()
            if undo is not None:
                await undo()

    # /docs is ours (local assets, below); no /redoc: one more bundle to vendor for nothing new
    app = FastAPI(
        title="connectql",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        telemetry=None if find_spec("opentelemetry.sdk") else NO_TELEMETRY,
    )
    waits = timeouts or TimeoutSettings()
    open_paths = {"/healthz", "/readyz"}
    for name in public:
        open_paths.update(PUBLIC_ENDPOINTS[name])
    graphql = LiveGraphQL(plane, keys, graphiql=graphiql, ws_init_timeout=waits.ws_init)
    app.add_middleware(GraphQLMount, graphql=graphql)  # the innermost: behind the guard
    # added before RequestIdMiddleware, so inside it: refusals carry the request id too
    app.add_middleware(
        Guard,
        access=keys,
        max_body_size=runtime.limits.max_body_size,
        max_upload_size=runtime.limits.max_upload_size,
        body_timeout=waits.body,
        public_paths=open_paths,
        # console pages hold no data (they ask for a key); download links are capabilities
        public_prefixes=[assets.PREFIX + "/", console.PREFIX, DOWNLOADS_PREFIX],
    )
    app.add_middleware(RequestIdMiddleware)
    app.state.control = plane
    app.state.access = keys
    app.state.keys = key_service
    app.router.routes.append(download_route(lambda: runtime.resolvers.files.downloads))
    app.router.routes.extend(console.routes())
    prometheus = metrics_registry(plane)
    shared = SharedMetrics(prometheus, worker.metrics) if worker else None
    rest.install(app, plane, keys, key_service)
    app.mount(assets.PREFIX, assets.StaticAssets(), name="static")
    if cors is not None and cors.origins:
        # added last, so outermost: preflights are answered before anything else runs
        app.add_middleware(
            CORSMiddleware,
            allow_origins=cors.origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key", *UPLOAD_HEADERS],
            allow_credentials=cors.credentials,
            max_age=cors.max_age,
        )

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        return swagger.page(request.scope.get("root_path", ""), app.openapi_url or "")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        ready = runtime.ready and (worker is None or worker.all_started.exists())
        body = {
            "ready": ready,
            "schemaVersion": runtime.version,
            "connectors": {name: c.state for name, c in sorted(runtime.connectors.items())},
        }
        if worker is not None:
            body["worker"] = {"index": worker.index, "pid": os.getpid()}
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        body = shared.render() if shared else render(prometheus)
        return Response(body, media_type=CONTENT_TYPE)

    return app


def app_from_config(
    config: AppConfig,
    *,
    demo: bool = False,
    state: StateDir | None = None,
    env: Mapping[str, str] | None = None,
    worker: WorkerContext | None = None,
) -> FastAPI:
    """The whole server as `connectql serve` runs it: registry (SQLite in the state directory,
    or DATABASE_URL), event bus (in-process, between `worker` processes, or REDIS_URL), API
    keys and the demo if asked. With `state=None` the server is stateless: no registry,
    nothing written."""
    from connectql.demo.runner import add_bookstore, start_demo

    environ = os.environ if env is None else env
    runtime = Runtime.from_config(config, roots=API_ROOTS)
    access = AccessControl.from_env(
        environ, anonymous=None if config.server.anonymous == "none" else "viewer"
    )
    registry = None
    admin_key_file = None
    if state is not None:
        url = environ.get("DATABASE_URL") or config.registry.url
        box = SecretBox.from_env_or_file(lambda: state.file(config.registry.key_file), environ)
        registry = Registry(database_url(url, lambda: state.file("connectql.db")), box)
        # cursors survive restarts, and replicas sharing the key accept each other's
        runtime.resolvers.cursors = Cursors.from_secret(box.key)
        if not access.has_admin:
            state.file(ADMIN_KEY_FILE)  # the directory must be writable before we start

            def admin_key_file() -> Path:
                return state.file(ADMIN_KEY_FILE)

    elif environ.get("DATABASE_URL"):
        raise ConfigError("DATABASE_URL names a registry, but the server is stateless")
    control = ControlPlane(
        runtime,
        registry,
        open_bus(
            environ.get("REDIS_URL"),
            config.registry.channel_prefix,
            peers=worker.peers if worker else None,
        ),
        EgressPolicy(config.egress.allow),
        reconcile_seconds=config.registry.reconcile_seconds,
    )
    shared_demo = worker.demo if worker and demo else None
    if shared_demo is not None:  # the supervisor serves the demo upstream for every worker
        add_bookstore(runtime, shared_demo)
    if config.builder.output_dir:
        control.output_dir = str(config.base_dir / config.builder.output_dir)
    return create_app(
        runtime,
        control=control,
        access=access,
        graphiql=config.server.graphiql,
        cors=config.server.cors,
        public=config.server.public,
        timeouts=config.server.timeouts,
        before_start=start_demo if demo and shared_demo is None else None,
        admin_key_file=admin_key_file,
        worker=worker,
    )


def _adopt_admin_key(keys: AccessControl, file: Callable[[], Path] | None) -> None:
    """Accept the admin key kept in the state directory (generated on first start); say
    where it is, never what it is."""
    if file is None:
        log.warning(
            "no admin API key is configured (CONNECTQL_API_KEYS) and this server keeps no "
            "state: management is closed until one is set"
        )
        return
    path = file()
    key, created = admin_key(path)
    keys.add_key(ADMIN, key)
    if created:
        log.warning("no admin API key is configured; generated one in %s (mode 0600)", path)
    else:
        log.info("admin API key: the one kept in %s", path)
