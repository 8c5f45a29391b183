"""Prebuilt connectors: one folder each with `connector.yaml` and at most one `hooks.py`.

Use one from connectql.yaml with `builtin: github` (and its config), or load its spec with
`builtin_spec("github")`. Their hook modules are registered in every runtime.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from connectql.connectors.auth.hooks import AuthHooks
from connectql.errors import ConfigError

HERE = Path(__file__).parent


def builtin_names() -> list[str]:
    return sorted(p.parent.name for p in HERE.glob("*/connector.yaml"))


def builtin_spec(name: str) -> Path:
    path = HERE / name / "connector.yaml"
    if not path.is_file():
        known = ", ".join(builtin_names())
        raise ConfigError(f"no prebuilt connector named {name!r} (prebuilt: {known})")
    return path


def register_builtin_hooks(hooks: AuthHooks) -> None:
    for name in builtin_names():
        if (HERE / name / "hooks.py").is_file():
            module = importlib.import_module(f"connectql.connectors.builtin.{name}.hooks")
            module.register(hooks)
