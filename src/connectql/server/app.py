"""The FastAPI application: /graphql, /healthz, /readyz, /metrics and the REST management API.
Wiring only; the logic lives in the control plane and the runtime."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from connectql.config import AppConfig
from connectql.connectors.egress import EgressPolicy
from connectql.control.access import AccessControl
from connectql.control.service import ControlPlane
from connectql.events import open_bus
from connectql.registry import Registry, SecretBox, database_url
from connectql.runtime import Runtime
from connectql.server import rest
from connectql.server.graphql_app import LiveGraphQL
from connectql.server.prometheus import CONTENT_TYPE, metrics_registry, render

log = logging.getLogger("connectql.server")

Startup = Callable[[Runtime], Awaitable[Callable[[], Awaitable[None]] | None]]


def create_app(
    runtime: Runtime,
    *,
    control: ControlPlane | None = None,
    access: AccessControl | None = None,
    graphiql: bool = True,
    before_start: Startup | None = None,
    admin_key_file: Path | None = None,
) -> FastAPI:
    """The app serving `runtime`; `before_start` may prepare it (e.g. the demo upstream)
    and return a function that undoes that on shutdown."""
    plane = control or ControlPlane(runtime)
    keys = access or AccessControl.from_env()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        undo = await before_start(runtime) if before_start else None
        await runtime.start()
        await plane.start()
        if plane.registry is not None:
            keys.set_stored_hashes(await plane.registry.api_key_hashes())
        generated = keys.ensure_admin()
        if generated is not None:
            _announce_admin_key(generated, admin_key_file)
        # The schema and connectors live as long as the process: keep them out of the
        # cyclic GC's scans, which otherwise stall requests (visible in p99).
        gc.freeze()
        try:
            yield
        finally:
            await plane.stop()
            await runtime.stop()
            if undo is not None:
                await undo()

    app = FastAPI(title="connectql", lifespan=lifespan)
    app.state.control = plane
    app.state.access = keys
    graphql = LiveGraphQL(plane, keys, graphiql=graphiql)
    app.router.routes.append(Route("/graphql", graphql, methods=["GET", "POST"]))
    app.router.routes.append(WebSocketRoute("/graphql", graphql))
    prometheus = metrics_registry(plane)
    rest.install(app, plane, keys)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        body = {
            "ready": runtime.ready,
            "schemaVersion": runtime.version,
            "connectors": {name: c.state for name, c in sorted(runtime.connectors.items())},
        }
        return JSONResponse(body, status_code=200 if runtime.ready else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(render(prometheus), media_type=CONTENT_TYPE)

    return app


def app_from_config(config: AppConfig, *, demo: bool = False) -> FastAPI:
    """The whole server as `connectql serve` runs it: registry (SQLite beside the config, or
    DATABASE_URL), event bus (in-process, or REDIS_URL), API keys and the demo if asked."""
    from connectql.demo.runner import start_demo

    runtime = Runtime.from_config(config)
    data_dir = config.base_dir
    url = database_url(
        os.environ.get("DATABASE_URL") or config.registry.url, data_dir / "connectql.db"
    )
    box = SecretBox.from_env_or_file(data_dir / config.registry.key_file)
    control = ControlPlane(
        runtime,
        Registry(url, box),
        open_bus(os.environ.get("REDIS_URL"), config.registry.channel_prefix),
        EgressPolicy(config.egress.allow),
    )
    if config.builder.output_dir:
        control.output_dir = str(config.base_dir / config.builder.output_dir)
    anonymous = None if config.server.anonymous == "none" else "viewer"
    return create_app(
        runtime,
        control=control,
        access=AccessControl.from_env(anonymous=anonymous),
        graphiql=config.server.graphiql,
        before_start=start_demo if demo else None,
        admin_key_file=data_dir / "connectql.admin-key",
    )


def _announce_admin_key(key: str, file: Path | None) -> None:
    """Write a generated admin key where only this user can read it; log where, not what."""
    if file is None:
        log.warning(
            "no admin API key is configured (CONNECTQL_API_KEYS); management is disabled "
            "until one is set"
        )
        return
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(key + "\n", encoding="utf-8")
    file.chmod(0o600)
    log.warning("no admin API key is configured; generated one in %s (mode 0600)", file)
