"""The `connectql` command: serve, validate, schema print."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, TextIO

import click
from graphql import print_schema

from connectql.config import AppConfig, load_config
from connectql.demo.runner import BOOKSTORE_SPEC
from connectql.errors import ConfigError, ConnectqlError, SpecErrors
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec, load_spec_text

DEFAULT_CONFIG = "connectql.yaml"


def _config_path(option: str | None) -> Path | None:
    """--config, else $CONNECTQL_CONFIG, else ./connectql.yaml if present; None means demo."""
    chosen = option or os.environ.get("CONNECTQL_CONFIG")
    if chosen:
        return Path(chosen)
    return Path(DEFAULT_CONFIG) if Path(DEFAULT_CONFIG).is_file() else None


def _fail(exc: ConnectqlError) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(1 if not isinstance(exc, ConfigError) else 2)


@click.group()
@click.version_option(package_name="connectql")
def main() -> None:
    """connectql: a GraphQL federation layer over API connectors."""


@main.command()
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

    from connectql.server.app import app_from_config

    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    path = None if demo else _config_path(config_file)
    try:
        config = load_config(path) if path else AppConfig()
        app = app_from_config(config, demo=path is None)
    except ConnectqlError as exc:
        _fail(exc)
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


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def validate(files: tuple[str, ...]) -> None:
    """Check connector spec files; print every problem with its location."""
    failed = 0
    for file in files:
        try:
            spec = load_spec(file)
        except SpecErrors as exc:
            failed += 1
            for error in exc.errors:
                click.echo(str(error), err=True)
        except ConnectqlError as exc:
            failed += 1
            click.echo(str(exc), err=True)
        else:
            click.echo(f"{file}: ok ({spec.name}, {len(spec.operations)} operations)")
    if failed:
        click.echo(f"{failed} of {len(files)} file(s) have errors", err=True)
        sys.exit(1)


@main.group()
def schema() -> None:
    """Inspect the GraphQL schema."""


@schema.command("print")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="connectql.yaml")
@click.option("-o", "--output", type=click.File("w"), default="-", help="Write the SDL here.")
def print_sdl(config_file: str | None, output: TextIO) -> None:
    """Write the schema's SDL (of the demo when there is no config)."""
    path = _config_path(config_file)
    try:
        if path:
            runtime = Runtime.from_config(load_config(path))
        else:
            runtime = Runtime()
            runtime.add(load_spec(BOOKSTORE_SPEC), {"base_url": "http://127.0.0.1", "api_key": "-"})
    except ConnectqlError as exc:
        _fail(exc)
        return
    output.write(print_schema(runtime.schema.graphql_schema) + "\n")
    asyncio.run(runtime.stop())


# --- the builder ------------------------------------------------------------------------------


@main.group("import")
def import_() -> None:
    """Turn an API description into a connector spec."""


@import_.command("openapi")
@click.argument("source")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the spec here.")
@click.option("--name", help="The connector's name (default: from the title).")
@click.option("--lock", "lock_file", type=click.Path(dir_okay=False), help="Naming lockfile.")
@click.option("--query", "queries", multiple=True, help="Make this operation a query.")
@click.option("--mutation", "mutations", multiple=True, help="Make this operation a mutation.")
def import_openapi_command(
    source: str,
    output: str | None,
    name: str | None,
    lock_file: str | None,
    queries: tuple[str, ...],
    mutations: tuple[str, ...],
) -> None:
    """Import an OpenAPI 3.0/3.1 or Swagger 2 document (file or URL, JSON or YAML).

    The report (skipped parts, name collisions, proposed pagination) goes to stderr; with
    --lock, names chosen before are kept and the lockfile is updated.
    """
    from connectql.builder.openapi import import_openapi, load_document, read_lock, read_source

    lock_path = Path(lock_file) if lock_file else None
    try:
        text = read_source(source, fetch=_fetch)
        lock = read_lock(lock_path.read_text()) if lock_path and lock_path.exists() else {}
        kinds = {**dict.fromkeys(queries, "query"), **dict.fromkeys(mutations, "mutation")}
        result = import_openapi(load_document(text), name=name, lock=lock, kinds=kinds)
    except ConnectqlError as exc:
        _fail(exc)
        return
    if output:
        Path(output).write_text(result.yaml(), encoding="utf-8")
    else:
        click.echo(result.yaml(), nl=False)
    if lock_path:
        lock_path.write_text(result.lock_json(), encoding="utf-8")
    click.echo(result.report.text(), err=True)


def _fetch(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - http(s) only
            return str(response.read().decode("utf-8"))
    except (urllib.error.URLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot fetch {url}: {exc}") from None


@main.command("infer")
@click.argument("samples", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--root", required=True, help="The record type's name, e.g. Book.")
@click.option("--records", help="Path of the records in each sample, e.g. items.")
@click.option(
    "--spec",
    "spec_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Show how the inferred types differ from this spec's.",
)
@click.option("--write", is_flag=True, help="Write the inferred types into --spec.")
def infer_command(
    samples: tuple[str, ...], root: str, records: str | None, spec_file: str | None, write: bool
) -> None:
    """Propose GraphQL types from real JSON responses."""
    import yaml

    from connectql.builder.infer import diff_types, infer_report

    data = [json.loads(Path(f).read_text(encoding="utf-8")) for f in samples]
    try:
        report = infer_report(data, root, records)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(report.yaml(), nl=False)
    if not spec_file:
        return
    raw = yaml.safe_load(Path(spec_file).read_text(encoding="utf-8"))
    changes = diff_types(raw.get("types") or {}, report.types)
    for change in changes:
        click.echo(
            f"{change.type_name}.{change.field}: {change.change} "
            f"({change.declared or '-'} → {change.inferred or '-'}) {change.reason}",
            err=True,
        )
    if write and changes:
        raw["types"] = {**(raw.get("types") or {}), **report.types}
        text = yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)
        load_spec_text(text, spec_file)  # never write a spec that does not load
        Path(spec_file).write_text(text, encoding="utf-8")
        click.echo(f"wrote {len(report.types)} types into {spec_file}", err=True)


@main.command("test")
@click.argument("spec_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--record", is_flag=True, help="Call the real API and (re)write the fixtures.")
@click.option(
    "--set",
    "values",
    multiple=True,
    metavar="KEY=VALUE",
    help="Config for --record; {env.NAME} values are read from the environment.",
)
def test_command(spec_file: str, record: bool, values: tuple[str, ...]) -> None:
    """Run a spec's `tests:` offline against recorded fixtures (or record them)."""
    from connectql.builder.fixtures import record as record_fixtures
    from connectql.builder.fixtures import replay

    try:
        spec = load_spec(spec_file)
    except SpecErrors as exc:
        for error in exc.errors:
            click.echo(str(error), err=True)
        sys.exit(1)
    directory = Path(spec_file).parent
    if not spec.tests:
        raise click.ClickException(f"{spec_file} has no tests: section")
    if record:
        config = {k: os.path.expandvars(v) for k, v in (_pair(v) for v in values)}
        written = asyncio.run(record_fixtures(spec, directory, config))
        for file in written:
            click.echo(f"recorded {file}")
        return
    outcomes = asyncio.run(replay(spec, directory))
    for outcome in outcomes:
        mark = "ok  " if outcome.passed else "FAIL"
        click.echo(f"{mark} {outcome.test} ({outcome.requests} requests)")
        for problem in outcome.problems:
            click.echo(f"     {problem}")
    failed = sum(1 for o in outcomes if not o.passed)
    click.echo(f"{len(outcomes) - failed} passed, {failed} failed")
    if failed:
        sys.exit(1)


@main.group()
def generate() -> None:
    """Generate a typed Python client or Markdown docs from a spec."""


@generate.command("client")
@click.argument("spec_file", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False))
@click.option("--package", help="The package name (default: <connector>_client).")
@click.option("--check", is_flag=True, help="Exit 1 if the files on disk differ.")
def generate_client_command(spec_file: str, output: str, package: str | None, check: bool) -> None:
    """A typed async Python client package running on connectql's runtime."""
    from connectql.builder.client import check_client, generate_client, write_client

    spec = _load_or_exit(spec_file)
    files = generate_client(spec, package)
    if check:
        differing = check_client(files, Path(output))
        for path in differing:
            click.echo(f"differs: {path}", err=True)
        sys.exit(1 if differing else 0)
    write_client(files, Path(output))
    click.echo(f"wrote {len(files)} files to {output}")


@generate.command("docs")
@click.argument("spec_file", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.File("w"), default="-")
def generate_docs_command(spec_file: str, output: TextIO) -> None:
    """Markdown: overview, auth setup, every operation with an example, types, errors."""
    from connectql.builder.docs import generate_docs

    spec = _load_or_exit(spec_file)
    output.write(generate_docs(spec, fixtures_dir=Path(spec_file).parent))


@main.command("new")
@click.argument("name")
@click.option(
    "--template",
    "template",
    default="rest-bearer",
    show_default=True,
    type=click.Choice(["rest-bearer", "oauth2", "paginated", "batch"]),
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Default: NAME.yaml")
def new_command(name: str, template: str, output: str | None) -> None:
    """Start a connector spec from a template."""
    from connectql.builder.templates import new_spec

    try:
        text = new_spec(name, template)
    except ConnectqlError as exc:
        _fail(exc)
        return
    target = Path(output or f"{name}.yaml")
    if target.exists():
        raise click.ClickException(f"{target} exists; not overwriting it")
    target.write_text(text, encoding="utf-8")
    click.echo(f"wrote {target}; check it with: connectql validate {target}")


def _load_or_exit(spec_file: str) -> Any:
    try:
        return load_spec(spec_file)
    except SpecErrors as exc:
        for error in exc.errors:
            click.echo(str(error), err=True)
        sys.exit(1)


# --- connectors: manage a running server over its REST API -----------------------------------


@main.group()
@click.option(
    "--server",
    envvar="CONNECTQL_URL",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="The running server ($CONNECTQL_URL).",
)
@click.option("--key", envvar="CONNECTQL_API_KEY", help="An admin API key ($CONNECTQL_API_KEY).")
@click.pass_context
def connectors(ctx: click.Context, server: str, key: str | None) -> None:
    """Manage the connectors of a running server."""
    ctx.obj = ManagementClient(server, key)


@connectors.command("list")
@click.pass_obj
def list_connectors(client: ManagementClient) -> None:
    """One line per connector: name, state, health, registry version."""
    for item in client.call("GET", ""):
        health = (item.get("health") or {}).get("state", "-")
        version = item.get("registry_version") or "-"
        click.echo(f"{item['name']}\t{item['state']}\t{health}\tv{version}\t{item['source']}")


@connectors.command("create")
@click.argument("spec_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--set", "values", multiple=True, metavar="KEY=VALUE", help="A config value.")
@click.option("--stopped", is_flag=True, help="Store it without starting it.")
@click.pass_obj
def create_connector(
    client: ManagementClient, spec_file: str, values: tuple[str, ...], stopped: bool
) -> None:
    """Create a connector from a spec file."""
    text = Path(spec_file).read_text(encoding="utf-8")
    fmt = "json" if spec_file.endswith(".json") else "yaml"
    config = dict(_pair(v) for v in values)
    body = {"spec": text, "format": fmt, "config": config, "start": not stopped}
    result = client.call("POST", "", body)
    click.echo(f"created {result['connector']['name']} (schema v{result['schema_version']})")


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep:
        raise click.BadParameter(f"{text!r} is not KEY=VALUE", param_hint="--set")
    return key, value


@connectors.command("start")
@click.argument("name")
@click.pass_obj
def start_connector(client: ManagementClient, name: str) -> None:
    """Start a stored connector."""
    result = client.call("POST", f"/{name}/start")
    click.echo(f"started {name} (schema v{result['schema_version']})")


@connectors.command("stop")
@click.argument("name")
@click.option("--force", is_flag=True, help="Apply even if the schema change is breaking.")
@click.pass_obj
def stop_connector(client: ManagementClient, name: str, force: bool) -> None:
    """Stop serving a connector (kept in the registry)."""
    result = client.call("POST", f"/{name}/stop?force={'true' if force else 'false'}")
    click.echo(f"stopped {name} (schema v{result['schema_version']})")


@connectors.command("delete")
@click.argument("name")
@click.option("--force", is_flag=True, help="Apply even if the schema change is breaking.")
@click.pass_obj
def delete_connector(client: ManagementClient, name: str, force: bool) -> None:
    """Delete a connector and its stored versions."""
    client.call("DELETE", f"/{name}?force={'true' if force else 'false'}")
    click.echo(f"deleted {name}")


class ManagementClient:
    """The REST management API, called with the standard library."""

    def __init__(self, server: str, key: str | None) -> None:
        if not server.startswith(("http://", "https://")):
            raise click.BadParameter(f"{server!r} is not an http(s) URL", param_hint="--server")
        self.base = server.rstrip("/") + "/api/connectors"
        self.key = key

    def call(self, method: str, path: str, body: object | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        url = self.base + path  # http(s) only: checked in __init__
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310
        request.add_header("Content-Type", "application/json")
        if self.key:
            request.add_header("Authorization", f"Bearer {self.key}")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise click.ClickException(_describe(exc)) from None
        except urllib.error.URLError as exc:
            raise click.ClickException(f"cannot reach {self.base}: {exc.reason}") from None


def _describe(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read())
    except ValueError:
        return f"HTTP {exc.code}"
    if "breaking_changes" in body:
        changes = "; ".join(c["description"] for c in body["breaking_changes"])
        return f"refused, the change is breaking (use --force): {changes}"
    lines = [f"{body.get('code', exc.code)}: {body.get('message', '')}"]
    lines += [
        f"  {p.get('file')}:{p.get('line')}:{p.get('column')} {p.get('path')}: {p['message']}"
        for p in body.get("problems", [])
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
