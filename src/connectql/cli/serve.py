"""`connectql serve` and `connectql schema print`."""

from __future__ import annotations

import asyncio
import logging
from typing import TextIO

import click

from connectql.cli.common import DEFAULT_CONFIG, config_path, fail
from connectql.errors import ConnectqlError


@click.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="connectql.yaml")
@click.option("--host", default=None, help="Interface to listen on [default: 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [default: 8000].")
@click.option(
    "--demo", is_flag=True, help="Serve the bundled demo connector even if a config exists."
)
@click.option("--log-level", default="info", show_default=True)
def serve(
    config_file: str | None, host: str | None, port: int | None, demo: bool, log_level: str
) -> None:
    """Run the GraphQL server (with no config: the bundled demo bookstore)."""
    import uvicorn

    from connectql.config import AppConfig, load_config
    from connectql.server.app import app_from_config

    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    path = None if demo else config_path(config_file)
    try:
        config = load_config(path) if path else AppConfig()
        app = app_from_config(config, demo=path is None)
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
    uvicorn.run(app, host=listen_host, port=listen_port, log_level=log_level, lifespan="on")


@click.group()
def schema() -> None:
    """Inspect the GraphQL schema."""


@schema.command("print")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="connectql.yaml")
@click.option("-o", "--output", type=click.File("w"), default="-", help="Write the SDL here.")
def print_sdl(config_file: str | None, output: TextIO) -> None:
    """Write the schema's SDL (of the demo when there is no config)."""
    from graphql import print_schema

    from connectql.config import load_config
    from connectql.demo.runner import BOOKSTORE_SPEC
    from connectql.runtime import Runtime
    from connectql.spec.loader import load_spec

    path = config_path(config_file)
    try:
        if path:
            runtime = Runtime.from_config(load_config(path))
        else:
            runtime = Runtime()
            runtime.add(load_spec(BOOKSTORE_SPEC), {"base_url": "http://127.0.0.1", "api_key": "-"})
    except ConnectqlError as exc:
        fail(exc)
        return
    output.write(print_schema(runtime.schema.graphql_schema) + "\n")
    asyncio.run(runtime.stop())
