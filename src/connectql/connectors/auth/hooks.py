"""The registry of custom auth hooks: named factories that build an AuthStrategy.

A hook module listed under `hooks:` in connectql.yaml defines `register(hooks)` and calls
`hooks.register("my_scheme", factory)`; a spec then says `auth: {type: custom, hook: my_scheme,
options: {...}}`. The factory gets the rendered options and the AuthContext.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from connectql.connectors.auth.base import AuthContext, AuthStrategy
from connectql.errors import ConfigError

AuthFactory = Callable[[Mapping[str, str], AuthContext], AuthStrategy]
OperationHook = Callable[[Any, str, dict[str, Any]], Awaitable[Any]]
"""`async def hook(connector, operation_name, args) -> result`: a multi-step operation that
uses `connector.call(...)` for each upstream call."""


class AuthHooks:
    """Named auth factories and operation hooks a spec may refer to."""

    def __init__(self) -> None:
        self._factories: dict[str, AuthFactory] = {}
        self._operations: dict[str, OperationHook] = {}

    def register_operation(self, name: str, hook: OperationHook) -> None:
        if name in self._operations:
            raise ConfigError(f"operation hook {name!r} is registered twice")
        self._operations[name] = hook

    def operation(self, name: str) -> OperationHook:
        try:
            return self._operations[name]
        except KeyError:
            known = ", ".join(sorted(self._operations)) or "none"
            raise ConfigError(
                f"operation hook {name!r} is not registered (registered: {known})"
            ) from None

    def register(self, name: str, factory: AuthFactory) -> None:
        if name in self._factories:
            raise ConfigError(f"auth hook {name!r} is registered twice")
        self._factories[name] = factory

    def get(self, name: str) -> AuthFactory:
        try:
            return self._factories[name]
        except KeyError:
            known = ", ".join(sorted(self._factories)) or "none"
            raise ConfigError(
                f"auth hook {name!r} is not registered (registered: {known}); list the module "
                "that registers it under hooks: in connectql.yaml"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._factories
