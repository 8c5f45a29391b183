"""The running set of connectors and the live schema built from them.

The server holds one Runtime. A change is prepared first (connectors built, schema built,
breaking changes computed against the live schema) and then applied: `schema` is replaced by
one attribute assignment, so requests pick it up when they start and keep theirs until they
end. Connectors no longer served retire once their calls in flight are done.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    find_breaking_changes,
    find_dangerous_changes,
)

from connectql.config import AppConfig
from connectql.connectors.auth import AuthHooks
from connectql.connectors.builtin import register_builtin_hooks
from connectql.connectors.clock import Clock
from connectql.connectors.connector import Connector
from connectql.connectors.egress import EgressPolicy, PolicyResolver
from connectql.errors import ConfigError
from connectql.graph.caches import Documents
from connectql.graph.compose import GRAPH_ROOTS, BuiltSchema, RootTypes, build_schema
from connectql.graph.joins import Joins, JoinStatus, Link, check_link, plan_joins
from connectql.graph.limits import Limits
from connectql.graph.types import ConnectorTypes
from connectql.resolvers.downloads import DownloadStore
from connectql.resolvers.errors import SafeErrors
from connectql.resolvers.fields import ConnectorResolvers
from connectql.resolvers.files import Files
from connectql.spec.loader import load_spec
from connectql.spec.models import ConnectorSpec

log = logging.getLogger("connectql.runtime")


def load_hooks(modules: Iterable[str]) -> AuthHooks:
    """An AuthHooks registry filled by each module's `register(hooks)` function."""
    hooks = AuthHooks()
    register_builtin_hooks(hooks)
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


@dataclass(frozen=True)
class SchemaChange:
    """One change, computed against the live schema."""

    type: str
    description: str


@dataclass
class Plan:
    """A connector set and its schema, built but not yet serving."""

    connectors: dict[str, Connector]
    schema: BuiltSchema
    types_cache: dict[int, ConnectorTypes]
    """The types of `connectors` by id; adopted on apply, dropped with a refused plan (ids
    of discarded connectors may be reused)."""
    breaking: list[SchemaChange] = field(default_factory=list)
    dangerous: list[SchemaChange] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    joins: Joins = field(default_factory=Joins)


def _part(entries: Iterable[tuple[str, ConnectorTypes | None, bool]]) -> GraphQLSchema:
    """The slice of the schema some connectors contribute: for each (name, types, served),
    nothing when absent, only its types when not served but a join's target. One slice for
    all of them: join fields reach other connectors' types, so separate slices could each
    hold most of the schema."""
    query: dict[str, GraphQLField] = {}
    mutation: dict[str, GraphQLField] = {}
    named: list[GraphQLNamedType] = []
    for _name, types, served in entries:
        if types is None:
            continue
        if served:
            own_query, own_mutation = types.root_fields()
            query.update(own_query)
            mutation.update(own_mutation)
        named += types.all_named_types()
    return GraphQLSchema(
        query=GraphQLObjectType("Query", query),
        mutation=GraphQLObjectType("Mutation", mutation),
        types=named,
    )


class Runtime:
    def __init__(
        self,
        *,
        hooks: AuthHooks | None = None,
        clock: Clock | None = None,
        limits: Limits | None = None,
        roots: RootTypes = GRAPH_ROOTS,
        federation: bool = False,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.hooks = hooks or load_hooks(())
        self.limits = limits or Limits()
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        """Where config keys with `env` are read from, for connectors the operator set up."""
        self.egress: EgressPolicy | None = None
        """Where connectors created at run time may connect (set by the control plane)."""
        self.clock = clock
        self.roots = roots
        """The static root types the connectors' fields join (the server's API)."""
        self.federation = federation
        """Serve an Apollo Federation v2 subgraph too (`_service`, `_entities`)."""
        self.connectors: dict[str, Connector] = {}
        limit = self.limits
        downloads = DownloadStore(
            ttl=limit.download_ttl, max_bytes=limit.max_download_bytes, clock=clock
        )
        files = Files(
            downloads, max_upload=limit.max_upload_size, max_inline=limit.max_inline_binary
        )
        self.resolvers = ConnectorResolvers(files=files)
        self._types_cache: dict[int, ConnectorTypes] = {}
        self.links: list[Link] = []
        """The joins between connectors (connectql.yaml's and the registry's)."""
        self.joins = Joins()
        """How `links` are served now: each one's status (graph/joins.py)."""
        self.known: dict[str, Connector] = {}
        """The last connector served under each name: a stopped join target's types."""
        self.version = 0
        self.started = False
        self._retiring: set[asyncio.Task[None]] = set()
        self.schema: BuiltSchema = self._build({}, self._types_cache)
        self.version = 1

    @classmethod
    def from_config(
        cls, config: AppConfig, *, clock: Clock | None = None, roots: RootTypes = GRAPH_ROOTS
    ) -> Runtime:
        runtime = cls(
            hooks=load_hooks(config.hooks), clock=clock, limits=config.limits, roots=roots
        )
        runtime.federation = config.federation.enabled  # the schema is built below
        specs: list[tuple[ConnectorSpec, Mapping[str, Any]]] = []
        for entry in config.connectors:
            if entry.enabled:
                specs.append((load_spec(config.spec_path(entry)), entry.config))
        check_config_links(config, {spec.name: spec for spec, _ in specs})
        runtime.apply(runtime.prepare(specs, links=config.links))
        return runtime

    def use_roots(self, roots: RootTypes) -> None:
        """Serve the connectors under other static root types (the server's API)."""
        if roots is not self.roots:
            self.roots = roots
            self.apply(self.prepare(self.specs()))

    def specs(self) -> list[tuple[ConnectorSpec, Mapping[str, Any]]]:
        return [(c.spec, c.config) for c in self.connectors.values()]

    def add(self, spec: ConnectorSpec, config: Mapping[str, Any]) -> Connector:
        """Create a connector and rebuild the schema with it (started if the runtime is)."""
        self.set_connectors([*self.specs(), (spec, config)])
        return self.connectors[spec.name]

    def set_connectors(self, specs: Iterable[tuple[ConnectorSpec, Mapping[str, Any]]]) -> None:
        self.apply(self.prepare(specs))

    def prepare(
        self,
        specs: Iterable[tuple[ConnectorSpec, Mapping[str, Any]]],
        restricted: Collection[str] = (),
        links: Iterable[Link] | None = None,
    ) -> Plan:
        """Build connectors (reusing unchanged ones) and their schema; diff it with the live one.

        Connectors named in `restricted` connect only where the egress policy allows.
        `links` are the joins to serve (default: the live ones).
        Raises ConfigError or SchemaBuildError; nothing live changes until `apply`.
        """
        connectors: dict[str, Connector] = {}
        for spec, config in specs:
            if spec.name in connectors:
                raise ConfigError(f"two connectors are named {spec.name!r}")
            existing = self.connectors.get(spec.name)
            if existing is not None and existing.spec == spec and existing.config == dict(config):
                connectors[spec.name] = existing
            else:
                resolver = (
                    PolicyResolver(self.egress)
                    if self.egress is not None and spec.name in restricted
                    else None
                )
                # the server's environment is the operator's: not for connectors made at run time
                environ = None if spec.name in restricted else self.environ
                connectors[spec.name] = Connector(
                    spec,
                    config,
                    clock=self.clock,
                    hooks=self.hooks,
                    resolver=resolver,
                    environ=environ,
                )
        wanted = list(self.links if links is None else links)
        joins = plan_joins(wanted, connectors, {**self.known, **connectors})
        live = {id(c) for c in [*connectors.values(), *joins.ghosts.values()]}
        cache = {k: v for k, v in self._types_cache.items() if k in live}
        cache = joins.reusable(cache, connectors)
        built = self._build(connectors, cache, joins)
        breaking: list[SchemaChange] = []
        dangerous: list[SchemaChange] = []
        # Only connectors that changed can change the schema: diff their parts, not all of it
        # (the whole schema of 100 connectors takes ~0.4 s to diff).
        old_ghosts, new_ghosts = self.joins.ghosts, joins.ghosts
        before: list[tuple[str, ConnectorTypes | None, bool]] = []
        after: list[tuple[str, ConnectorTypes | None, bool]] = []
        for name in sorted({*self.connectors, *connectors, *old_ghosts, *new_ghosts}):
            old_connector = self.connectors.get(name) or old_ghosts.get(name)
            new_connector = connectors.get(name) or new_ghosts.get(name)
            old_types = self._types_cache.get(id(old_connector)) if old_connector else None
            new_types = cache.get(id(new_connector)) if new_connector else None
            if old_types is new_types and (name in self.connectors) == (name in connectors):
                continue
            before.append((name, old_types, name in self.connectors))
            after.append((name, new_types, name in connectors))
        if before:
            old, new = _part(before), _part(after)
            breaking += [
                SchemaChange(c.type.name, c.description) for c in find_breaking_changes(old, new)
            ]
            dangerous += [
                SchemaChange(c.type.name, c.description) for c in find_dangerous_changes(old, new)
            ]
        breaking += [SchemaChange(kind, text) for kind, text in joins.changes(self.joins.statuses)]
        return Plan(connectors, built, cache, breaking, dangerous, wanted, joins)

    def apply(self, plan: Plan) -> None:
        """Serve `plan` from the next request on; start new connectors, retire dropped ones."""
        previous = self.connectors
        self.connectors = plan.connectors
        self.schema = plan.schema
        self.version += 1
        self._types_cache = plan.types_cache
        _log_joins(self.joins.statuses, plan.joins.statuses)
        self.links, self.joins = plan.links, plan.joins
        self.known.update(plan.connectors)
        log.info("schema v%d live (built in %.1f ms)", self.version, plan.schema.build_ms)
        if not self.started:
            return
        for connector in plan.connectors.values():
            if connector.state != "running":
                connector.state = "running"
        for name, connector in previous.items():
            if plan.connectors.get(name) is not connector:
                task = asyncio.get_running_loop().create_task(connector.retire())
                self._retiring.add(task)
                task.add_done_callback(self._retiring.discard)

    def _build(
        self,
        connectors: Mapping[str, Connector],
        cache: dict[int, ConnectorTypes],
        joins: Joins | None = None,
    ) -> BuiltSchema:
        return build_schema(
            list(connectors.values()),
            self.resolvers,
            roots=self.roots,
            extensions=[SafeErrors],
            documents=Documents(self.limits),
            types_cache=cache,
            federation=self.federation,
            joins=joins,
        )

    def remember(self, spec: ConnectorSpec, config: Mapping[str, Any]) -> None:
        """Know a connector that is not served (a stored, stopped one), so that joins to it
        keep their fields typed by its spec; never started."""
        if spec.name not in self.known:
            self.known[spec.name] = Connector(spec, config, clock=self.clock, hooks=self.hooks)

    async def start(self) -> None:
        self.started = True
        for connector in self.connectors.values():
            await connector.start()

    async def stop(self) -> None:
        self.started = False
        for connector in self.connectors.values():
            await connector.stop()
        for task in list(self._retiring):
            await task

    def connector_sdl(self, name: str) -> str | None:
        connector = self.connectors.get(name)
        types = self._types_cache.get(id(connector)) if connector is not None else None
        return types.sdl() if types is not None else None

    @property
    def ready(self) -> bool:
        return all(c.state == "running" for c in self.connectors.values())


def _log_joins(before: Iterable[JoinStatus], after: Iterable[JoinStatus]) -> None:
    """A warning for each link that newly can't be served as declared."""
    seen = {(s.link.key, s.state, s.reason) for s in before}
    for status in after:
        if status.state != "active" and (status.link.key, status.state, status.reason) not in seen:
            log.warning("join %s is %s: %s", status.link.name, status.state, status.reason)


def check_config_links(config: AppConfig, specs: Mapping[str, ConnectorSpec]) -> None:
    """connectql.yaml's links must fit its connectors: a ConfigError with every problem,
    each at its file, line and key path, stops the server before it serves anything."""
    problems: list[str] = []
    taken: list[tuple[str, str]] = []
    for index, link in enumerate(config.links):
        for problem in check_link(link, specs, taken):
            problems.append(f"{config.where(('links', index, *problem.loc))}: {problem.message}")
        taken.append(link.key)
    if problems:
        raise ConfigError("\n".join(problems))
