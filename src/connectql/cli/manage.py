"""`connectql connectors …`: manage a running server over its REST API."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from connectql.cli.common import pair

SERVER_OPTION = click.option(
    "--server",
    envvar="CONNECTQL_URL",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="The running server ($CONNECTQL_URL).",
)
KEY_OPTION = click.option(
    "--key", envvar="CONNECTQL_API_KEY", help="An admin API key ($CONNECTQL_API_KEY)."
)


@click.group()
@SERVER_OPTION
@KEY_OPTION
@click.pass_context
def connectors(ctx: click.Context, server: str, key: str | None) -> None:
    """Manage the connectors of a running server."""
    ctx.obj = ManagementClient(server, key)


@connectors.command("list")
@click.pass_obj
def list_connectors(client: ManagementClient) -> None:
    """One line per connector: name, state, health, registry version, where it comes from."""
    rows = [
        (
            item["name"],
            item["state"],
            (item.get("health") or {}).get("state", "-"),
            f"v{item['registry_version']}" if item.get("registry_version") else "-",
            item["source"],
        )
        for item in client.call("GET", "/connectors")
    ]
    _table(("NAME", "STATE", "HEALTH", "VERSION", "SOURCE"), rows)


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
    config = dict(pair(v) for v in values)
    body = {"spec": text, "format": fmt, "config": config, "start": not stopped}
    result = client.call("POST", "/connectors", body)
    click.echo(f"created {result['connector']['name']} (schema v{result['schema_version']})")


@connectors.command("start")
@click.argument("name")
@click.pass_obj
def start_connector(client: ManagementClient, name: str) -> None:
    """Start a stored connector."""
    result = client.call("POST", f"/connectors/{name}/start")
    click.echo(f"started {name} (schema v{result['schema_version']})")


@connectors.command("stop")
@click.argument("name")
@click.option("--force", is_flag=True, help="Apply even if the schema change is breaking.")
@click.pass_obj
def stop_connector(client: ManagementClient, name: str, force: bool) -> None:
    """Stop serving a connector (kept in the registry)."""
    result = client.call("POST", f"/connectors/{name}/stop?force={'true' if force else 'false'}")
    click.echo(f"stopped {name} (schema v{result['schema_version']})")


@connectors.command("delete")
@click.argument("name")
@click.option("--force", is_flag=True, help="Apply even if the schema change is breaking.")
@click.pass_obj
def delete_connector(client: ManagementClient, name: str, force: bool) -> None:
    """Delete a connector and its stored versions."""
    client.call("DELETE", f"/connectors/{name}?force={'true' if force else 'false'}")
    click.echo(f"deleted {name}")


# --- keys: the registry's API keys --------------------------------------------------------


@click.group()
@SERVER_OPTION
@KEY_OPTION
@click.pass_context
def keys(ctx: click.Context, server: str, key: str | None) -> None:
    """Create, list and revoke the API keys kept in a running server's registry."""
    ctx.obj = ManagementClient(server, key)


@keys.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "viewer"]), default="viewer", show_default=True)
@click.pass_obj
def create_key(client: ManagementClient, name: str, role: str) -> None:
    """Create a key; it is printed once (on stdout, alone) and never shown again."""
    created = client.call("POST", "/keys", {"name": name, "role": role})
    click.echo(created["key"])
    click.echo(f"created {role} key {name!r}; store it now, it is not kept in clear", err=True)


@keys.command("list")
@click.pass_obj
def list_keys(client: ManagementClient) -> None:
    """One line per stored key: name, role, created (never the key)."""
    rows = [(k["name"], k["role"], k["created_at"]) for k in client.call("GET", "/keys")]
    _table(("NAME", "ROLE", "CREATED"), rows)


@keys.command("revoke")
@click.argument("name")
@click.pass_obj
def revoke_key(client: ManagementClient, name: str) -> None:
    """Revoke a key: every replica refuses it from now on."""
    client.call("DELETE", f"/keys/{name}")
    click.echo(f"revoked {name}")


# --- links: joins between connectors ---------------------------------------------------


@click.group()
@SERVER_OPTION
@KEY_OPTION
@click.pass_context
def links(ctx: click.Context, server: str, key: str | None) -> None:
    """Join connectors: fields of one connector's types resolved by another connector."""
    ctx.obj = ManagementClient(server, key)


@links.command("list")
@click.pass_obj
def list_links(client: ManagementClient) -> None:
    """One line per link: its field, what resolves it, where it comes from, its state."""
    rows = [
        (
            f"{item['type']}.{item['field']}",
            f"{item['connector']}.{item['operation']}",
            item["source"],
            item["state"],
            item.get("reason") or "-",
        )
        for item in client.call("GET", "/links")
    ]
    _table(("FIELD", "RESOLVED BY", "SOURCE", "STATE", "REASON"), rows)


@links.command("create")
@click.argument("field", metavar="TYPE.FIELD")
@click.argument("operation", metavar="CONNECTOR.OPERATION")
@click.option("--arg", "args", multiple=True, metavar="NAME=VALUE", help="An argument.")
@click.option("--description", help="The field's description.")
@click.pass_obj
def create_link(
    client: ManagementClient,
    field: str,
    operation: str,
    args: tuple[str, ...],
    description: str | None,
) -> None:
    """Add TYPE.FIELD, resolved by CONNECTOR.OPERATION with the arguments given."""
    type_, _, name = field.partition(".")
    connector, _, op = operation.partition(".")
    body = {
        "type": type_,
        "field": name,
        "connector": connector,
        "operation": op,
        "args": dict(pair(a) for a in args),
        "description": description,
    }
    result = client.call("POST", "/links", body)
    click.echo(f"created {result['link_id']} (schema v{result['schema_version']})")


@links.command("delete")
@click.argument("field", metavar="TYPE.FIELD")
@click.option("--force", is_flag=True, help="Apply even if the schema change is breaking.")
@click.pass_obj
def delete_link(client: ManagementClient, field: str, force: bool) -> None:
    """Remove a registry link and its field."""
    type_, _, name = field.partition(".")
    flag = "true" if force else "false"
    result = client.call("DELETE", f"/links/{type_}/{name}?force={flag}")
    click.echo(f"deleted {result['link_id']} (schema v{result['schema_version']})")


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    """Aligned columns with a header, for people; `cut -f` still works (tab-separated)."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)]
        click.echo("\t".join(cells).rstrip())


class ManagementClient:
    """The REST management API, called with the standard library."""

    def __init__(self, server: str, key: str | None) -> None:
        if not server.startswith(("http://", "https://")):
            raise click.BadParameter(f"{server!r} is not an http(s) URL", param_hint="--server")
        self.base = server.rstrip("/") + "/api"
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
        if p.get("file")
        else f"  {p.get('path')}: {p['message']}"
        for p in body.get("problems", [])
    ]
    return "\n".join(lines)
