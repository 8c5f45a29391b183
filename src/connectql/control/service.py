"""The control plane: create, configure, start, stop, update, roll back and delete connectors
while the server runs, keeping the registry, the live schema and other replicas in step.

Each change, on one replica at a time (a lock): build the new connector set and schema, refuse
a breaking change unless forced, commit to the registry (one transaction), swap the schema,
then tell other replicas (`registry.changed`) and local subscribers (`schema.changed`).
Events can be lost (Redis away), so replicas also compare the registry's change count with
what they serve, every `reconcile_seconds` and when the bus reconnects, and catch up.
Connectors from connectql.yaml are the operator's: served, never changed from here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from connectql.connectors.connector import Connector, resolve_config
from connectql.connectors.egress import EgressPolicy, PolicyResolver
from connectql.connectors.trace import TraceEntry, tracing
from connectql.control.health import DOWN, STARTING, STOPPED, HealthMonitor
from connectql.control.recent_errors import RecentErrors
from connectql.control.usage import UsageCounter
from connectql.errors import (
    ConfigError,
    Conflict,
    ConnectorError,
    ConnectqlError,
    ControlError,
    LinkInvalid,
    NotFound,
)
from connectql.events import REGISTRY, SCHEMA, EventBus, LocalBus
from connectql.events.bus import RECONNECTED
from connectql.graph.joins import JoinStatus, Link, LinkProblem, check_link
from connectql.registry import RUNNING, Registry, StoredConnector, StoredLink
from connectql.registry import STOPPED as STATE_STOPPED
from connectql.runtime import Plan, Runtime, SchemaChange
from connectql.spec.loader import load_spec_text
from connectql.spec.models import ConnectorSpec

log = logging.getLogger("connectql.control")

FORMATS = ("yaml", "json")


@dataclass(frozen=True)
class Change:
    """What a change did (or would have done) to the live schema."""

    connector: str
    applied: bool
    schema_version: int
    breaking: list[SchemaChange] = field(default_factory=list)
    dangerous: list[SchemaChange] = field(default_factory=list)


@dataclass(frozen=True)
class TestOutcome:
    ok: bool
    data: Any
    error: dict[str, Any] | None
    trace: list[TraceEntry]


class ControlPlane:
    def __init__(
        self,
        runtime: Runtime,
        registry: Registry | None = None,
        bus: EventBus | None = None,
        egress: EgressPolicy | None = None,
        *,
        reconcile_seconds: float = 5.0,
    ) -> None:
        self.runtime = runtime
        self.egress = egress or EgressPolicy()
        self.output_dir: str | None = None
        """Where the builder's generateClient/generateDocs write without dryRun."""
        runtime.egress = self.egress
        self.registry = registry
        self.bus = bus or LocalBus()
        self.health = HealthMonitor(self.bus)
        self.usage = UsageCounter()
        self.recent_errors = RecentErrors()
        self.static: dict[str, ConnectorSpec] = {}
        """Connectors from connectql.yaml (or added in code): served, not managed here."""
        self._static_config: dict[str, Mapping[str, Any]] = {}
        self.stored: dict[str, StoredConnector] = {}
        self.static_links: list[Link] = []
        """Links from connectql.yaml: served, not managed here."""
        self.stored_links: list[Link] = []
        """Links kept in the registry."""
        self._lock = asyncio.Lock()
        self._follower: asyncio.Task[None] | None = None
        self.reconcile_seconds = reconcile_seconds
        self._seen: tuple[int, int] | None = None
        """The registry's connector and link change counts when `stored` (and
        `stored_links`) were last read from it."""

    # --- lifecycle of the plane ---------------------------------------------------------------

    async def start(self) -> None:
        """Adopt the runtime's connectors as static, then add the registry's running ones."""
        self.static = {name: c.spec for name, c in self.runtime.connectors.items()}
        self._static_config = {name: c.config for name, c in self.runtime.connectors.items()}
        self.static_links = list(self.runtime.links)
        await self.bus.start()
        if self.registry is not None:
            await self.registry.start()
            async with self._lock:
                await self._reconcile(force=True)
            self._follower = asyncio.create_task(self._follow())
        self._watch_all()

    async def stop(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
        await self.bus.close()
        if self.registry is not None:
            await self.registry.close()

    async def _follow(self) -> None:
        """Apply changes other replicas made to the shared registry: at once on their event,
        else at the next check (every `reconcile_seconds`, or when the bus reconnects)."""
        failing = False
        async with self.bus.subscribe(REGISTRY, RECONNECTED) as events:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(events.get(), self.reconcile_seconds)
                while not events.empty():  # one look at the registry answers them all
                    events.get_nowait()
                try:
                    async with self._lock:
                        change = await self._reconcile()
                except Exception:  # must not stop following; logged once, not every check
                    if not failing:
                        log.exception("could not catch up with the registry")
                    failing = True
                    continue
                failing = False
                if change is not None:
                    self._announce_local(change)

    async def _reconcile(self, *, force: bool = False) -> Change | None:
        """Serve what the registry holds if it changed since we last read it (under the
        lock). Costs one small query when it has not."""
        assert self.registry is not None
        counts = await self.registry.changes()
        seen = (counts.connectors, counts.links)
        if seen == self._seen and not force:
            return None
        stored = {s.name: s for s in await self.registry.all()}
        links = [_link(s) for s in await self.registry.links()]
        self._seen = seen  # counted before reading: a change in between is caught next time
        if stored == self.stored and links == self.stored_links and not force:
            return None  # our own writes, served already
        return self._reload(stored, links)

    def _reload(
        self, stored: dict[str, StoredConnector], links: list[Link] | None = None
    ) -> Change:
        """Serve exactly `stored`, the registry's connectors (and the static connectors), and
        `links` (default: the stored links as they are)."""
        if links is not None:
            self.stored_links = links
        self._remember_targets(stored)
        specs: list[tuple[ConnectorSpec, Mapping[str, Any]]] = [
            (spec, self._static_config[name]) for name, spec in self.static.items()
        ]
        for item in stored.values():
            if item.desired_state != RUNNING or item.name in self.static:
                continue
            try:
                spec = self._parse(item.spec_text, item.spec_format, item.name, item.version)
                config = self._config_for(spec, item.config)
                resolve_config(spec, config)  # a config that can't run fails here, not below
                specs.append((spec, config))
            except ConnectqlError as exc:  # reported; the others still start
                log.error("connector %s v%d cannot run: %s", item.name, item.version, exc)
                self.health.set(item.name, DOWN, f"cannot run: {exc}")
        plan = self.runtime.prepare(specs, restricted=set(stored), links=self.links())
        self.stored = stored
        self.runtime.apply(plan)
        self._watch_all()
        for name, item in stored.items():
            if item.desired_state != RUNNING:
                self.health.set(name, STOPPED, "stopped")
        return self._change("*", plan, applied=True)

    # --- reads ---------------------------------------------------------------------------

    def managed(self, name: str) -> StoredConnector:
        if name in self.static:
            raise ControlError(f"connector {name!r} is defined in connectql.yaml; change it there")
        found = self.stored.get(name)
        if found is None:
            raise NotFound(f"no connector named {name!r}")
        return found

    def spec_of(self, stored: StoredConnector) -> ConnectorSpec | None:
        """The parsed spec of a stored connector (None if it no longer loads)."""
        try:
            return self._parse(stored.spec_text, stored.spec_format, stored.name, stored.version)
        except ConnectqlError:
            return None

    def links(self) -> list[Link]:
        """Every link: connectql.yaml's, then the registry's."""
        return [*self.static_links, *self.stored_links]

    def link_statuses(self) -> list[tuple[JoinStatus, str]]:
        """How each link is served on this replica, and where it is from (config|registry)."""
        static = {link.key for link in self.static_links}
        return [
            (status, "config" if status.link.key in static else "registry")
            for status in self.runtime.joins.statuses
        ]

    def names(self) -> list[str]:
        return sorted({*self.static, *self.stored})

    def require(self, name: str) -> None:
        """Raise NotFound unless `name` is a connector here, served or stored."""
        if name not in self.runtime.connectors and name not in self.stored:
            raise NotFound(f"no connector named {name!r}")

    def running(self, name: str) -> Connector:
        """The live connector `name`; NotFound, or ControlError if it is stopped."""
        connector = self.runtime.connectors.get(name)
        if connector is None:
            self.require(name)
            raise ControlError(f"connector {name!r} is stopped; start it first")
        return connector

    # --- changes -------------------------------------------------------------------------

    async def create(
        self,
        spec_text: str,
        spec_format: str = "yaml",
        config: Mapping[str, Any] | None = None,
        *,
        start: bool = True,
    ) -> Change:
        registry = self._registry()
        spec = await self._parse_sent(spec_text, spec_format)
        values = dict(config or {})
        async with self._lock:
            if spec.name in self.static or spec.name in self.stored:
                raise Conflict(f"a connector named {spec.name!r} already exists")
            plan = self._plan(add=(spec, values)) if start else None
            if plan is None:
                resolve_keys(spec, values)
            await self._check_egress(plan, spec.name)
            stored = await registry.create(
                spec.name,
                spec_text,
                spec_format,
                values,
                spec.secret_keys(),
                RUNNING if start else STATE_STOPPED,
            )
            self.stored[spec.name] = stored
            change = self._apply(spec.name, plan)
            if not start:
                self.health.set(spec.name, STOPPED, "created stopped")
        await self._announce(change)
        return change

    async def update(
        self,
        name: str,
        spec_text: str,
        spec_format: str = "yaml",
        *,
        force: bool = False,
        config: Mapping[str, Any] | None = None,
    ) -> Change:
        """Store and serve a new spec version; `config` values are merged in the same change
        (a null value removes a key): both are stored, or neither."""
        registry = self._registry()
        spec = await self._parse_sent(spec_text, spec_format)
        if spec.name != name:
            raise ControlError(
                f"the spec names connector {spec.name!r}; an update keeps the name {name!r}"
            )

        def store(config: dict[str, Any]) -> Awaitable[StoredConnector]:
            return registry.add_version(name, spec_text, spec_format, config, spec.secret_keys())

        async with self._lock:
            change = await self._switch_spec(name, spec, store, force=force, values=config)
        await self._announce(change)
        return change

    async def rollback(self, name: str, version: int, *, force: bool = False) -> Change:
        registry = self._registry()
        async with self._lock:
            versions = {v.version: v for v in await registry.versions(self.managed(name).name)}
            if version not in versions:
                raise NotFound(f"connector {name!r} has no version {version}")
            target = versions[version]
            spec = self._parse(target.spec_text, target.spec_format, name, version)
            change = await self._switch_spec(
                name,
                spec,
                lambda _config: registry.set_version(name, version, spec.secret_keys()),
                force=force,
            )
        await self._announce(change)
        return change

    async def _switch_spec(
        self,
        name: str,
        spec: ConnectorSpec,
        store: Callable[[dict[str, Any]], Awaitable[StoredConnector]],
        *,
        force: bool,
        values: Mapping[str, Any] | None = None,
    ) -> Change:
        """Serve another spec for a stored connector (under the lock), with `values` merged
        into its config: refuse a breaking change unless forced, then store and swap."""
        stored = self.managed(name)
        config = {k: v for k, v in stored.config.items() if k in spec.config}
        if values:
            config = {k: v for k, v in {**config, **values}.items() if v is not None}
        plan = self._plan(add=(spec, config)) if stored.desired_state == RUNNING else None
        if plan is None and values:
            resolve_keys(spec, config)  # a running one's config is checked by the plan
        if plan is not None and plan.breaking and not force:
            return self._change(name, plan, applied=False)
        await self._check_egress(plan, name)
        self.stored[name] = await store(config)
        return self._apply(name, plan)

    async def configure(self, name: str, values: Mapping[str, Any]) -> Change:
        """Merge `values` into the connector's config; a null value removes a key."""
        registry = self._registry()
        async with self._lock:
            stored = self.managed(name)
            spec = self._parse(stored.spec_text, stored.spec_format, name, stored.version)
            config = {**stored.config, **values}
            config = {k: v for k, v in config.items() if v is not None}
            plan = self._plan(add=(spec, config)) if stored.desired_state == RUNNING else None
            if plan is None:
                resolve_keys(spec, config)
            await self._check_egress(plan, name)
            self.stored[name] = await registry.configure(name, config, spec.secret_keys())
            change = self._apply(name, plan)
        await self._announce(change)
        return change

    async def start_connector(self, name: str) -> Change:
        registry = self._registry()
        async with self._lock:
            stored = self.managed(name)
            self.health.set(name, STARTING, "starting")
            try:
                spec = self._parse(stored.spec_text, stored.spec_format, name, stored.version)
                plan = self._plan(add=(spec, self._config_for(spec, stored.config)))
                await self._check_egress(plan, name)
                self.stored[name] = await registry.set_desired_state(name, RUNNING)
            except BaseException as exc:  # cancelled too: health must not stay `starting`
                why = str(exc) if isinstance(exc, ConnectqlError) else "an internal error"
                self._start_refused(name, f"cannot start: {why}")
                raise
            change = self._apply(name, plan)
        await self._announce(change)
        return change

    def _start_refused(self, name: str, reason: str) -> None:
        """Health leaves `starting`: a served connector is judged again; one not served is
        `stopped`, or `down` if the registry says it should run."""
        live = self.runtime.connectors.get(name)
        if live is not None:
            self.health.watch(live)
        elif self.stored[name].desired_state == RUNNING:
            self.health.set(name, DOWN, reason)
        else:
            self.health.set(name, STOPPED, reason)

    async def stop_connector(self, name: str, *, force: bool = False) -> Change:
        registry = self._registry()

        async def store() -> None:
            self.stored[name] = await registry.set_desired_state(name, STATE_STOPPED)
            self.health.set(name, STOPPED, "stopped")

        return await self._remove(name, store, force=force)

    async def delete(self, name: str, *, force: bool = False) -> Change:
        registry = self._registry()

        async def store() -> None:
            await registry.delete(name)
            del self.stored[name]
            self.health.forget(name)

        return await self._remove(name, store, force=force)

    async def _remove(
        self, name: str, store: Callable[[], Awaitable[None]], *, force: bool
    ) -> Change:
        """Take a stored connector out of the schema: refuse a breaking change unless
        forced, then store and swap."""
        async with self._lock:
            self.managed(name)
            plan = self._plan(remove=name)
            if plan.breaking and not force:
                return self._change(name, plan, applied=False)
            await store()
            change = self._apply(name, plan)
        await self._announce(change)
        return change

    async def create_link(self, link: Link, *, force: bool = False) -> Change:
        """Store a link and serve its field; LinkInvalid with every problem if it does not
        fit the running connectors."""
        registry = self._registry()
        async with self._lock:
            if any(known.key == link.key for known in self.static_links):
                raise Conflict(f"link {link.name} is defined in connectql.yaml; change it there")
            if any(known.key == link.key for known in self.stored_links):
                raise Conflict(f"a link {link.name} already exists; delete it first")
            problems = self._link_problems(link)
            if problems:
                raise LinkInvalid(link.name, [(p.path, p.message) for p in problems])
            plan = self._plan(links=[*self.links(), link])
            if plan.breaking and not force:
                return self._change(link.name, plan, applied=False)
            await registry.create_link(
                link.type, link.field, link.connector, link.operation, link.args, link.description
            )
            self.stored_links = [*self.stored_links, link]
            change = self._apply(link.name, plan)
        await self._announce(change)
        return change

    async def delete_link(self, type: str, field: str, *, force: bool = False) -> Change:
        """Stop serving a stored link's field and forget it (breaking: needs force)."""
        registry = self._registry()
        name = f"{type}.{field}"
        async with self._lock:
            if any(known.key == (type, field) for known in self.static_links):
                raise ControlError(f"link {name} is defined in connectql.yaml; change it there")
            if not any(known.key == (type, field) for known in self.stored_links):
                raise NotFound(f"no link {name}")
            remaining = [known for known in self.links() if known.key != (type, field)]
            plan = self._plan(links=remaining)
            if plan.breaking and not force:
                return self._change(name, plan, applied=False)
            await registry.delete_link(type, field)
            self.stored_links = [known for known in self.stored_links if known.key != (type, field)]
            change = self._apply(name, plan)
        await self._announce(change)
        return change

    def _link_problems(self, link: Link) -> list[LinkProblem]:
        served = self.runtime.connectors
        if link.connector not in served and link.connector in self.stored:
            message = f"connector {link.connector} is stopped; start it first"
            return [LinkProblem(("connector",), message)]
        specs = {name: c.spec for name, c in served.items()}
        return check_link(link, specs, [known.key for known in self.links()])

    def _remember_targets(self, stored: Mapping[str, StoredConnector]) -> None:
        """Stopped stored connectors that links join to are known by their spec, so those
        join fields keep their types (answering CONNECTOR_UNAVAILABLE) after a restart."""
        targets = {link.connector for link in self.links()}
        for name in targets - set(self.runtime.known):
            item = stored.get(name)
            if item is None or item.desired_state == RUNNING:
                continue
            try:
                spec = self._parse(item.spec_text, item.spec_format, item.name, item.version)
                self.runtime.remember(spec, self._config_for(spec, item.config))
            except ConnectqlError as exc:
                log.warning("connector %s, joined to, cannot be read: %s", name, exc)

    async def test(
        self, name: str, operation: str, args: Mapping[str, Any] | None = None
    ) -> TestOutcome:
        """Call one operation once (the first page if paginated), with a request trace."""
        return await _trial(self.running(name), operation, args)

    async def test_draft(
        self,
        spec_text: str,
        spec_format: str,
        config: Mapping[str, Any],
        operation: str,
        args: Mapping[str, Any] | None = None,
    ) -> TestOutcome:
        """Call one operation of a spec that is not stored (the builder's draft) once, with
        a trace: a throwaway connector under the egress policy, closed afterwards."""
        spec = await self._parse_sent(spec_text, spec_format)
        connector = Connector(
            spec,
            config,
            clock=self.runtime.clock,
            hooks=self.runtime.hooks,
            resolver=PolicyResolver(self.egress),
        )
        try:
            await self.egress.check_url(connector.base_url)
            return await _trial(connector, operation, args)
        finally:
            await connector.stop()

    # --- helpers -------------------------------------------------------------------------

    def _registry(self) -> Registry:
        if self.registry is None:
            raise ControlError(
                "this server is stateless (--stateless): it serves connectql.yaml only, and "
                "connectors can't be created or changed while it runs"
            )
        return self.registry

    async def _parse_sent(self, text: str, spec_format: str) -> ConnectorSpec:
        """A spec a caller sent, parsed off the event loop: a large one (seconds for a few
        MB) must not stall every other request meanwhile."""
        return await asyncio.to_thread(self._parse, text, spec_format)

    @staticmethod
    def _parse(
        text: str, spec_format: str, name: str = "spec", version: int | None = None
    ) -> ConnectorSpec:
        if spec_format not in FORMATS:
            raise ControlError(f"format must be one of {', '.join(FORMATS)}")
        suffix = f".v{version}" if version is not None else ""
        return load_spec_text(text, f"{name}{suffix}.{spec_format}")

    @staticmethod
    def _config_for(spec: ConnectorSpec, config: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in config.items() if k in spec.config}

    def _plan(
        self,
        *,
        add: tuple[ConnectorSpec, Mapping[str, Any]] | None = None,
        remove: str | None = None,
        links: list[Link] | None = None,
    ) -> Plan:
        specs: list[tuple[ConnectorSpec, Mapping[str, Any]]] = [
            (c.spec, c.config)
            for name, c in self.runtime.connectors.items()
            if name != remove and (add is None or name != add[0].name)
        ]
        if add is not None:
            specs.append(add)
        managed = set(self.stored) | ({add[0].name} if add is not None else set())
        return self.runtime.prepare(specs, restricted=managed - set(self.static), links=links)

    async def _check_egress(self, plan: Plan | None, name: str) -> None:
        """A clear refusal up front; the connector's resolver enforces it on every connect."""
        connector = plan.connectors.get(name) if plan is not None else None
        if connector is not None and name not in self.static:
            await self.egress.check_url(connector.base_url)

    def _apply(self, name: str, plan: Plan | None) -> Change:
        if plan is None:
            return Change(name, True, self.runtime.version)
        self.runtime.apply(plan)
        self._watch_all()
        return self._change(name, plan, applied=True)

    def _change(self, name: str, plan: Plan, *, applied: bool) -> Change:
        return Change(name, applied, self.runtime.version, plan.breaking, plan.dangerous)

    def _watch_all(self) -> None:
        for connector in self.runtime.connectors.values():
            self.health.watch(connector)
            self.usage.watch(connector)
            self.recent_errors.watch(connector)

    async def _announce(self, change: Change) -> None:
        self._announce_local(change)
        await self.bus.publish(REGISTRY, {"connector": change.connector})

    def _announce_local(self, change: Change) -> None:
        """schema.changed is about this replica's schema: delivered here only."""
        if change.applied:
            self.bus.deliver_local(SCHEMA, {**asdict(change), "origin": self.bus.origin})


async def _trial(
    connector: Connector, operation: str, args: Mapping[str, Any] | None
) -> TestOutcome:
    """Call one operation once (the first page if paginated), with a request trace."""
    if operation not in connector.spec.operations:
        known = ", ".join(sorted(connector.spec.operations))
        raise NotFound(f"connector {connector.name!r} has no operation {operation!r} ({known})")
    op = connector.spec.operations[operation]
    with tracing() as trace:
        try:
            paginator = connector.paginator(operation)
            if paginator is not None:
                size = getattr(op.pagination, "page_size", 30)
                page = await connector.fetch_page(
                    operation, dict(args or {}), paginator.first(size), size
                )
                data: Any = page.records
            else:
                data = await connector.execute(operation, dict(args or {}))
        except ConnectorError as exc:
            return TestOutcome(False, None, {**exc.extensions(), "message": exc.message}, trace)
    return TestOutcome(True, data, None, trace)


def _link(stored: StoredLink) -> Link:
    return Link(
        type=stored.type,
        field=stored.field,
        connector=stored.connector,
        operation=stored.operation,
        args=stored.args,
        description=stored.description,
    )


def resolve_keys(spec: ConnectorSpec, config: Mapping[str, Any]) -> None:
    """Check config keys and types without requiring the required ones (not started yet)."""
    unknown = sorted(set(config) - set(spec.config))
    if unknown:
        raise ConfigError(
            f"connector {spec.name!r}: unknown config key(s) {', '.join(unknown)}; "
            f"declared: {', '.join(sorted(spec.config)) or 'none'}"
        )
    partial = {k: v for k, v in config.items() if v is not None}
    required = {k for k, d in spec.config.items() if d.required and k not in partial}
    filler = {k: _placeholder(spec.config[k].type) for k in required}
    resolve_config(spec, {**partial, **filler})


def _placeholder(kind: str) -> Any:
    return {"string": "-", "integer": 0, "number": 0.0, "boolean": False}[kind]
