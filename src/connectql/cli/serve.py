"""`connectql serve` and `connectql schema print`."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import click

from connectql.cli.common import DEFAULT_CONFIG, config_path, fail, write_output
from connectql.errors import ConnectqlError
from connectql.logs import LEVELS, LogFormat, configure_logging


@click.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="connectql.yaml")
@click.option("--host", default=None, help="Interface to listen on [default: 127.0.0.1].")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port [default: 8000].")
@click.option(
    "--demo", is_flag=True, help="Serve the bundled demo connector even if a config exists."
)
@click.option(
    "--state-dir",
    envvar="CONNECTQL_STATE_DIR",
    type=click.Path(file_okay=False),
    help="Where the registry and keys are kept ($CONNECTQL_STATE_DIR) "
    "[default: beside the config if writable, else the user data directory].",
)
@click.option(
    "--stateless",
    is_flag=True,
    envvar="CONNECTQL_STATELESS",
    help="Serve connectql.yaml only: no registry, no files written, run-time changes refused.",
)
@click.option(
    "--log-level",
    type=click.Choice(LEVELS, case_sensitive=False),
    default="info",
    show_default=True,
)
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option("--access-log", is_flag=True, help="Log one line per HTTP request.")
@click.option(
    "--workers",
    envvar="CONNECTQL_WORKERS",
    callback=lambda _ctx, _param, value: _workers(value),
    help="Server processes sharing the port: a number, or auto for one per CPU "
    "($CONNECTQL_WORKERS) [default: server.workers in the config, else 1].",
)
def serve(
    config_file: str | None,
    host: str | None,
    port: int | None,
    demo: bool,
    state_dir: str | None,
    stateless: bool,
    log_level: str,
    log_format: LogFormat,
    access_log: bool,
    workers: int | str | None,
) -> None:
    """Run the GraphQL server (with no config: the bundled demo bookstore)."""
    import uvicorn

    from connectql.cli.workers import run_worker, worker_count
    from connectql.config import AppConfig, load_config
    from connectql.server.app import app_from_config
    from connectql.server.guard import header_timeout
    from connectql.server.worker import WORKER_ENV, WorkerContext
    from connectql.state import StateDir

    configure_logging(log_level, log_format)
    path = None if demo else config_path(config_file)
    worker = WorkerContext.from_env(os.environ[WORKER_ENV]) if WORKER_ENV in os.environ else None
    try:
        config = load_config(path) if path else AppConfig()
        state = None if stateless else StateDir.resolve(state_dir, config.base_dir.absolute())
        count = worker_count(workers if workers is not None else config.server.workers)
        if count > 1 and worker is None:
            from connectql.cli.workers import Supervisor

            args = _worker_args(path, host, state_dir, stateless, log_level, log_format, access_log)
            supervisor = Supervisor(count, args, demo=_demo_upstream() if path is None else None)
            listen_host = host or config.server.host
            listen_port = config.server.port if port is None else port
            on_ready = _banner(listen_host) if path is None else lambda _port: None
            raise SystemExit(asyncio.run(supervisor.run(listen_host, listen_port, on_ready)))
        app = app_from_config(config, demo=path is None, state=state, worker=worker)
    except ConnectqlError as exc:
        fail(exc)
        return
    listen_host = host or config.server.host
    listen_port = config.server.port if port is None else port
    if path is None and worker is None:
        _banner(listen_host)(listen_port)
    waits = config.server.timeouts
    options: dict[str, Any] = {
        "log_level": log_level.lower(),
        "log_config": None,
        "access_log": access_log,
        "lifespan": "on",
        "http": header_timeout(waits.headers),
        "timeout_keep_alive": waits.keep_alive,
        "ws_ping_interval": waits.ws_ping_interval,
        "ws_ping_timeout": waits.ws_ping_timeout,
        "ws_max_size": config.limits.max_body_size,
    }
    if worker is not None:
        run_worker(app, listen_host, listen_port, worker.ready_fd, **options)
    else:
        uvicorn.run(app, host=listen_host, port=listen_port, **options)


def _workers(value: str | None) -> int | str | None:
    if value is None or value == "auto":
        return value
    if value.isdigit() and int(value) >= 1:
        return int(value)
    raise click.BadParameter(f"{value!r} is not a number of processes (1 or more) or auto")


def _worker_args(
    config: Path | None,
    host: str | None,
    state_dir: str | None,
    stateless: bool,
    log_level: str,
    log_format: str,
    access_log: bool,
) -> Callable[[int], list[str]]:
    """The options a worker is started with, as this process was, on the port given."""

    def args(port: int) -> list[str]:
        chosen = ["--config", str(config.absolute())] if config else ["--demo"]
        chosen += ["--port", str(port), "--log-level", log_level, "--log-format", log_format]
        if host:
            chosen += ["--host", host]
        if state_dir:
            chosen += ["--state-dir", str(Path(state_dir).absolute())]
        if stateless:
            chosen.append("--stateless")
        if access_log:
            chosen.append("--access-log")
        return chosen

    return args


def _demo_upstream() -> Callable[
    [], Awaitable[tuple[dict[str, str], Callable[[], Awaitable[None]]]]
]:
    from connectql.demo.runner import serve_bookstore

    return serve_bookstore


def _banner(host: str) -> Callable[[int], None]:
    def say(port: int) -> None:
        click.echo(
            f"connectql: no {DEFAULT_CONFIG} found, serving the demo bookstore connector.\n"
            f"Open http://{host}:{port}/graphql and try:\n"
            "  { bookstore { books(first: 3) { nodes { title author { name } } } } }",
            err=True,
        )

    return say


@click.group()
def schema() -> None:
    """Inspect the GraphQL schema."""


@schema.command("print")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="connectql.yaml")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Write the SDL here [default: stdout]."
)
def print_sdl(config_file: str | None, output: str | None) -> None:
    """Write the schema's SDL (of the demo when there is no config)."""
    from graphql import print_schema

    from connectql.api import API_ROOTS
    from connectql.config import load_config
    from connectql.demo.runner import BOOKSTORE_SPEC
    from connectql.runtime import Runtime
    from connectql.spec.loader import load_spec

    path = config_path(config_file)
    try:
        if path:
            runtime = Runtime.from_config(load_config(path), roots=API_ROOTS)
        else:
            runtime = Runtime(roots=API_ROOTS)
            runtime.add(load_spec(BOOKSTORE_SPEC), {"base_url": "http://127.0.0.1", "api_key": "-"})
    except ConnectqlError as exc:
        fail(exc)
        return
    sdl = print_schema(runtime.schema.graphql_schema) + "\n"
    if output:
        write_output(Path(output), sdl)
    else:
        click.echo(sdl, nl=False)
    asyncio.run(runtime.stop())
