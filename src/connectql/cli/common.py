"""What the `connectql` commands share: where the config is, how failures end a command."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from connectql.errors import ConfigError, ConnectqlError, SpecErrors

DEFAULT_CONFIG = "connectql.yaml"


def config_path(option: str | None) -> Path | None:
    """--config, else $CONNECTQL_CONFIG, else ./connectql.yaml if present; None means demo."""
    chosen = option or os.environ.get("CONNECTQL_CONFIG")
    if chosen:
        return Path(chosen)
    return Path(DEFAULT_CONFIG) if Path(DEFAULT_CONFIG).is_file() else None


def fail(exc: ConnectqlError) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(1 if not isinstance(exc, ConfigError) else 2)


def load_or_exit(spec_file: str) -> Any:
    from connectql.spec.loader import load_spec

    try:
        return load_spec(spec_file)
    except SpecErrors as exc:
        for error in exc.errors:
            click.echo(str(error), err=True)
        sys.exit(1)


def pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep:
        raise click.BadParameter(f"{text!r} is not KEY=VALUE", param_hint="--set")
    return key, value


def write_output(path: Path, text: str) -> None:
    """Write an output file, creating its folder (`-o docs/shop.md` in a fresh checkout)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
