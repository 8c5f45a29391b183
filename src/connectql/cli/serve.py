"""`connectql serve` and `connectql schema print`."""

from __future__ import annotations

import asyncio
from pathlib import Path

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
) -> None:
    """Run the GraphQL server (with no config: the bundled demo bookstore)."""
    import uvicorn

    from connectql.config import AppConfig, load_config
    from connectql.server.app import app_from_config
    from connectql.server.guard import header_timeout
    from connectql.state import StateDir

    configure_logging(log_level, log_format)
    path = None if demo else config_path(config_file)
    try:
        config = load_config(path) if path else AppConfig()
        state = None if stateless else StateDir.resolve(state_dir, config.base_dir.absolute())
        app = app_from_config(config, demo=path is None, state=state)
    except ConnectqlError as exc:
        fail(exc)
        return
    listen_host = host or config.server.host
    listen_port = config.server.port if port is None else port
    if path is None:
        click.echo(
            f"connectql: no {DEFAULT_CONFIG} found, serving the demo bookstore connector.\n"
            f"Open http://{listen_host}:{listen_port}/graphql and try:\n"
            "  { bookstore { books(first: 3) { nodes { title author { name } } } } }",
            err=True,
        )
    waits = config.server.timeouts
    uvicorn.run(
        app,
        host=listen_host,
        port=listen_port,
        log_level=log_level.lower(),
        log_config=None,
        access_log=access_log,
        lifespan="on",
        http=header_timeout(waits.headers),
        timeout_keep_alive=waits.keep_alive,
        ws_ping_interval=waits.ws_ping_interval,
        ws_ping_timeout=waits.ws_ping_timeout,
        ws_max_size=config.limits.max_body_size,
    )


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
