"""The `connectql` command. Subcommands live in their own modules and are imported only
when run, so `connectql --version` and `--help` start fast."""

from __future__ import annotations

import importlib

import click

COMMANDS = {
    "serve": ("connectql.cli.serve", "serve", "Run the GraphQL server."),
    "validate": ("connectql.cli.builder", "validate", "Check connector spec files."),
    "schema": ("connectql.cli.serve", "schema", "Inspect the GraphQL schema."),
    "import": ("connectql.cli.builder", "import_", "Turn an API description into a spec."),
    "infer": ("connectql.cli.builder", "infer_command", "Propose types from JSON samples."),
    "test": ("connectql.cli.builder", "test_command", "Run a spec's fixture tests."),
    "generate": ("connectql.cli.builder", "generate", "Generate a Python client or docs."),
    "new": ("connectql.cli.builder", "new_command", "Start a spec from a template."),
    "connectors": ("connectql.cli.manage", "connectors", "Manage a running server's connectors."),
    "keys": ("connectql.cli.manage", "keys", "Manage a running server's API keys."),
    "links": ("connectql.cli.manage", "links", "Manage a running server's joins."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[cmd_name]
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_) for name, (_, _, help_) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup)
@click.version_option(package_name="connectql")
def main() -> None:
    """connectql: a GraphQL federation layer over API connectors."""


if __name__ == "__main__":
    main()
