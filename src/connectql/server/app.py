"""The FastAPI application: /graphql, /healthz, /readyz. Wiring only; no business logic."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute

from connectql.runtime import Runtime
from connectql.server.graphql_app import LiveGraphQL

Startup = Callable[[Runtime], Awaitable[Callable[[], Awaitable[None]] | None]]


def create_app(
    runtime: Runtime, *, graphiql: bool = True, before_start: Startup | None = None
) -> FastAPI:
    """The app serving `runtime`; `before_start` may prepare it (e.g. the demo upstream)
    and return a function that undoes that on shutdown."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        undo = await before_start(runtime) if before_start else None
        await runtime.start()
        # The schema and connectors live as long as the process: keep them out of the
        # cyclic GC's scans, which otherwise stall requests (visible in p99).
        gc.freeze()
        try:
            yield
        finally:
            await runtime.stop()
            if undo is not None:
                await undo()

    app = FastAPI(title="connectql", lifespan=lifespan)
    graphql = LiveGraphQL(runtime, graphiql=graphiql)
    app.router.routes.append(Route("/graphql", graphql, methods=["GET", "POST"]))
    app.router.routes.append(WebSocketRoute("/graphql", graphql))

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

    return app
