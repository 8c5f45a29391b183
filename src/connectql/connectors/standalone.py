"""A connector used from Python, without a server.

    async with open_connector("openai", config={"api_key": key}) as openai:
        reply = await openai.call("chatCompletion", model="gpt-4o-mini", messages=[...])
        reply["content"]

The source is a prebuilt connector's name, a spec file's path or a loaded ConnectorSpec. It is
the Connector the server runs, so auth, retries, rate limits, the breaker and pagination
work as its spec says; its connection pool opens on the first call and closes with the
`async with` block (or `aclose()`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from connectql.connectors.auth import AuthHooks
from connectql.connectors.builtin import builtin_spec, register_builtin_hooks
from connectql.connectors.clock import Clock
from connectql.connectors.connector import Connector
from connectql.errors import ConnectorError
from connectql.spec.loader import load_spec
from connectql.spec.mapping import shape
from connectql.spec.models import ConnectorSpec
from connectql.spec.typeref import parse_type_ref

__all__ = ["StandaloneConnector", "open_connector"]

DEFAULT_PAGE_SIZE = 30
"""What a paginated operation returns when its spec names no page_size (as in GraphQL)."""


class StandaloneConnector:
    """Calls one connector's operations by name; results have the spec's type fields."""

    def __init__(self, connector: Connector) -> None:
        self.connector = connector

    async def __aenter__(self) -> Self:
        await self.connector.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.connector.stop()

    async def call(self, operation: str, /, **args: Any) -> Any:
        """Run `operation` once with `args` (upstream values: enum values, input objects by
        their upstream keys). The result is shaped as GraphQL gives it, with the field
        names of the spec's types; a paginated operation returns its first `page_size`
        records, as GraphQL does without `first`."""
        spec = self.connector.spec
        op = spec.operations.get(operation)
        if op is None:
            known = ", ".join(sorted(spec.operations))
            raise self._bad_input(operation, f"no operation {operation!r} (operations: {known})")
        values = self._arguments(operation, args)
        if op.is_paginated:
            size: int = getattr(op.pagination, "page_size", DEFAULT_PAGE_SIZE)
            result = await self.connector.fetch_records(operation, values, size)
        else:
            result = await self.connector.execute(operation, values)
        return shape(spec, op.response.type, result)

    def _arguments(self, operation: str, given: Mapping[str, Any]) -> dict[str, Any]:
        """Declared defaults filled in, unknown and missing required arguments refused."""
        declared = self.connector.operation(operation).args
        unknown = sorted(set(given) - set(declared))
        if unknown:
            takes = ", ".join(declared) or "no arguments"
            raise self._bad_input(
                operation, f"{operation} has no argument {', '.join(unknown)} (takes: {takes})"
            )
        values = {name: arg.default for name, arg in declared.items() if arg.default is not None}
        values.update({name: value for name, value in given.items() if value is not None})
        missing = [
            name
            for name, arg in declared.items()
            if parse_type_ref(arg.type).non_null and name not in values
        ]
        if missing:
            raise self._bad_input(operation, f"{operation} needs {', '.join(missing)}")
        return values

    def _bad_input(self, operation: str, message: str) -> ConnectorError:
        return ConnectorError(
            f"connector {self.connector.name!r}: {message}",
            connector=self.connector.name,
            operation=operation,
            code="BAD_USER_INPUT",
        )


def open_connector(
    source: str | os.PathLike[str] | ConnectorSpec,
    config: Mapping[str, Any] | None = None,
    *,
    hooks: AuthHooks | None = None,
    clock: Clock | None = None,
) -> StandaloneConnector:
    """A connector from a prebuilt name (`openai`), a spec file or a ConnectorSpec, with its
    config; raises ConfigError (unknown prebuilt, bad config) or SpecErrors (bad spec file)."""
    if hooks is None:
        hooks = AuthHooks()
        register_builtin_hooks(hooks)
    return StandaloneConnector(Connector(_spec(source), config, hooks=hooks, clock=clock))


def _spec(source: str | os.PathLike[str] | ConnectorSpec) -> ConnectorSpec:
    if isinstance(source, ConnectorSpec):
        return source
    path = Path(source)
    if isinstance(source, str) and not path.suffix and len(path.parts) == 1:
        return load_spec(builtin_spec(source))  # a bare name: a prebuilt connector
    return load_spec(path)
