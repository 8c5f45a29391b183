"""Starting points for a new connector spec: `connectql new NAME --template …`."""

from __future__ import annotations

import re
from pathlib import Path

from connectql.errors import ConfigError

TEMPLATES = Path(__file__).with_name("templates")
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def template_names() -> list[str]:
    return sorted(p.stem for p in TEMPLATES.glob("*.yaml"))


def template_description(template: str) -> str:
    """The template's first comment line, which says what it is for."""
    first = (TEMPLATES / f"{template}.yaml").read_text(encoding="utf-8").split("\n", 1)[0]
    return first.removeprefix("#").strip()


def new_spec(name: str, template: str) -> str:
    """The template's text for a connector called `name`."""
    if not NAME.match(name):
        raise ConfigError(
            f"{name!r} is not a connector name: lower-case letters, digits and _, starting "
            "with a letter, at most 40 characters"
        )
    path = TEMPLATES / f"{template}.yaml"
    if template not in template_names():
        raise ConfigError(f"no template {template!r} (templates: {', '.join(template_names())})")
    title = name.replace("_", " ").title()
    return path.read_text(encoding="utf-8").replace("__NAME__", name).replace("__TITLE__", title)
