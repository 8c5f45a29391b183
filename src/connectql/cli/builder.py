"""The builder's commands: validate, import openapi, infer, test, generate, new."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import click

from connectql.cli.common import fail, load_or_exit, pair, write_output
from connectql.errors import ConfigError, ConnectqlError, SpecErrors
from connectql.spec.loader import check_text, load_spec, load_spec_text

_T = TypeVar("_T")


@click.command()
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


@click.group("import")
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
    from connectql.builder.openapi import (
        import_openapi,
        load_document,
        no_progress,
        read_lock,
        read_source,
    )

    on_terminal = sys.stderr.isatty()
    lock_path = Path(lock_file) if lock_file else None
    try:
        if on_terminal:
            click.echo(f"reading {source}", err=True)
        text = read_source(source, fetch=_fetch)
        lock = read_lock(lock_path.read_text()) if lock_path and lock_path.exists() else {}
        kinds = {**dict.fromkeys(queries, "query"), **dict.fromkeys(mutations, "mutation")}
        result = import_openapi(
            load_document(text),
            name=name,
            lock=lock,
            kinds=kinds,
            progress=_progress_bar if on_terminal else no_progress,
        )
    except ConnectqlError as exc:
        fail(exc)
        return
    if output:
        write_output(Path(output), result.yaml())
    else:
        click.echo(result.yaml(), nl=False)
    if lock_path:
        write_output(lock_path, result.lock_json())
    click.echo(result.report.text(), err=True)


def _progress_bar(items: Sequence[_T], label: str) -> Iterator[_T]:
    with click.progressbar(items, label=label, file=sys.stderr) as bar:
        yield from bar


def _fetch(url: str) -> str:
    """The operator may name any host, even a local one; a redirect elsewhere must pass the
    default egress policy (a public document must not lead to an internal address)."""
    from connectql.builder.openapi import fetch_document
    from connectql.connectors.egress import EgressPolicy

    host = urlsplit(url).hostname or ""
    try:
        return asyncio.run(fetch_document(url, EgressPolicy([host])))
    except ConnectqlError as exc:
        raise ConfigError(f"cannot fetch {url}: {exc}") from None


@click.command("infer")
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
    text = Path(spec_file).read_text(encoding="utf-8")
    try:
        check_text(text, spec_file)  # the spec's limits (size, nesting, aliases) first
    except SpecErrors as exc:
        raise click.ClickException(str(exc.errors[0])) from None
    raw = yaml.safe_load(text)
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


@click.command("test")
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
    from connectql.config import fill_env

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
        try:
            config = fill_env(dict(pair(v) for v in values), os.environ, "--set", ())
            recording = asyncio.run(record_fixtures(spec, directory, config))
        except ConnectqlError as exc:
            fail(exc)
            return
        for failure in recording.failures:
            click.echo(f"FAIL {failure}", err=True)
        if recording.failures:
            click.echo("no fixture written: the recorded ones are unchanged", err=True)
            sys.exit(1)
        for file in recording.files:
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


@click.group()
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

    spec = load_or_exit(spec_file)
    try:
        files = generate_client(spec, package)
    except ValueError as exc:  # a package name that can't be one
        raise click.BadParameter(str(exc), param_hint="--package") from None
    if check:
        differing = check_client(files, Path(output))
        for path in differing:
            click.echo(f"differs: {path}", err=True)
        sys.exit(1 if differing else 0)
    write_client(files, Path(output))
    click.echo(f"wrote {len(files)} files to {output}")


@generate.command("docs")
@click.argument("spec_file", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Default: stdout.")
def generate_docs_command(spec_file: str, output: str | None) -> None:
    """Markdown: overview, auth setup, every operation with an example, types, errors."""
    from connectql.builder.docs import generate_docs

    spec = load_or_exit(spec_file)
    text = generate_docs(spec, fixtures_dir=Path(spec_file).parent)
    if output:
        write_output(Path(output), text)
    else:
        click.echo(text, nl=False)


@click.command("new")
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
        fail(exc)
        return
    target = Path(output or f"{name}.yaml")
    if target.exists():
        raise click.ClickException(f"{target} exists; not overwriting it")
    write_output(target, text)
    click.echo(f"wrote {target}; check it with: connectql validate {target}")
