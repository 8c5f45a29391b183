"""The running set of connectors and the live schema built from them.

The server holds one Runtime. `schema` is replaced atomically (one attribute assignment) when
the connector set changes; requests pick it up when they start and keep it until they end.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from connectql.config import AppConfig
from connectql.connectors.auth import AuthHooks
from connectql.connectors.clock import Clock
from connectql.connectors.connector import Connector
from connectql.errors import ConfigError
from connectql.resolvers.errors import SafeErrors
from connectql.resolvers.fields import ConnectorResolvers
from connectql.schema.caches import query_caches
from connectql.schema.compose import BuiltSchema, build_schema
from connectql.schema.types import ConnectorTypes
from connectql.spec.loader import load_spec
from connectql.spec.models import ConnectorSpec

log = logging.getLogger("connectql.runtime")


def load_hooks(modules: Iterable[str]) -> AuthHooks:
    """An AuthHooks registry filled by each module's `register(hooks)` function."""
    hooks = AuthHooks()
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise ConfigError(f"hook module {name!r} cannot be imported: {exc}") from None
        register = getattr(module, "register", None)
        if not callable(register):
            raise ConfigError(f"hook module {name!r} has no register(hooks) function")
        register(hooks)
    return hooks


class Runtime:
    def __init__(self, *, hooks: AuthHooks | None = None, clock: Clock | None = None) -> None:
        self.hooks = hooks or AuthHooks()
        self.clock = clock
        self.connectors: dict[str, Connector] = {}
        self.resolvers = ConnectorResolvers()
        self._types_cache: dict[int, ConnectorTypes] = {}
        self.version = 0
        self.schema: BuiltSchema = self._build()

    @classmethod
    def from_config(cls, config: AppConfig, *, clock: Clock | None = None) -> Runtime:
        runtime = cls(hooks=load_hooks(config.hooks), clock=clock)
        specs: list[tuple[ConnectorSpec, Mapping[str, Any]]] = []
        for entry in config.connectors:
            if entry.enabled:
                specs.append((load_spec(config.spec_path(entry)), entry.config))
        runtime.set_connectors(specs)
        return runtime

    def add(self, spec: ConnectorSpec, config: Mapping[str, Any]) -> Connector:
        """Create a connector (not yet started) and rebuild the schema with it."""
        self.set_connectors(
            [*((c.spec, c.config) for c in self.connectors.values()), (spec, config)]
        )
        return self.connectors[spec.name]

    def set_connectors(self, specs: Iterable[tuple[ConnectorSpec, Mapping[str, Any]]]) -> None:
        connectors: dict[str, Connector] = {}
        for spec, config in specs:
            if spec.name in connectors:
                raise ConfigError(f"two connectors are named {spec.name!r}")
            existing = self.connectors.get(spec.name)
            if existing is not None and existing.spec == spec and existing.config == dict(config):
                connectors[spec.name] = existing
            else:
                connectors[spec.name] = Connector(spec, config, clock=self.clock, hooks=self.hooks)
        self.connectors = connectors
        self._types_cache = {
            key: types
            for key, types in self._types_cache.items()
            if any(id(c) == key for c in connectors.values())
        }
        self.schema = self._build()

    def _build(self) -> BuiltSchema:
        built = build_schema(
            list(self.connectors.values()),
            self.resolvers,
            extensions=[SafeErrors, *query_caches()],
            types_cache=self._types_cache,
        )
        self.version += 1
        log.info("schema v%d built in %.1f ms", self.version, built.build_ms)
        return built

    async def start(self) -> None:
        for connector in self.connectors.values():
            await connector.start()

    async def stop(self) -> None:
        for connector in self.connectors.values():
            await connector.stop()

    @property
    def ready(self) -> bool:
        return all(c.state == "running" for c in self.connectors.values())
