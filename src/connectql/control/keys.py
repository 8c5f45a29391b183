"""API keys kept in the registry: create, list and revoke them while the server runs.

A change reaches this replica's AccessControl at once and other replicas through the event
bus (`keys.changed`). The database, not the bus, is the source of truth: like the control
plane, every replica compares the registry's key change count with the keys it loaded, every
`reconcile_seconds` and when the bus reconnects, and re-reads them when it moved.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from connectql.control.access import ROLES, AccessControl
from connectql.errors import ControlError
from connectql.events import KEYS, EventBus
from connectql.events.bus import RECONNECTED
from connectql.registry import Registry, StoredKey

log = logging.getLogger("connectql.control")


class KeyService:
    def __init__(
        self,
        registry: Registry | None,
        access: AccessControl,
        bus: EventBus,
        *,
        reconcile_seconds: float = 5.0,
    ) -> None:
        self.registry = registry
        self.access = access
        self.bus = bus
        self.reconcile_seconds = reconcile_seconds
        self._follower: asyncio.Task[None] | None = None
        self._seen: int | None = None
        """The registry's key change count when the keys were last read."""

    async def start(self) -> None:
        """Load the stored keys and follow changes (the registry must be started)."""
        if self.registry is None:
            return
        await self.refresh()
        self._follower = asyncio.create_task(self._follow())

    async def stop(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower

    async def refresh(self) -> None:
        """Re-read the keys if the registry's key change count moved since the last read."""
        registry = self._registry()
        seen = (await registry.changes()).api_keys
        if seen != self._seen:
            self.access.set_stored_hashes(await registry.api_key_hashes())
            self._seen = seen  # counted before reading: a change in between is caught next time

    async def create(self, name: str, role: str) -> tuple[StoredKey, str]:
        if role not in ROLES:
            raise ControlError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if not name.strip() or len(name) > 64:
            raise ControlError("a key's name must have 1 to 64 characters")
        stored, key = await self._registry().create_api_key(name.strip(), role)
        await self._changed()
        log.info("API key %r (%s) created", stored.name, role)
        return stored, key

    async def list(self) -> list[StoredKey]:
        return await self._registry().api_keys()

    async def revoke(self, name: str) -> None:
        await self._registry().revoke_api_key(name)
        await self._changed()
        log.info("API key %r revoked", name)

    async def _changed(self) -> None:
        await self.refresh()
        await self.bus.publish(KEYS, {})

    async def _follow(self) -> None:
        failing = False
        async with self.bus.subscribe(KEYS, RECONNECTED) as events:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(events.get(), self.reconcile_seconds)
                try:
                    await self.refresh()
                except Exception:  # the database may be away for a moment: keep the last keys
                    if not failing:
                        log.warning("could not re-read the API keys; keeping the last ones")
                    failing = True
                else:
                    failing = False

    def _registry(self) -> Registry:
        if self.registry is None:
            raise ControlError(
                "this server runs without a registry (stateless); API keys come from "
                "CONNECTQL_API_KEYS only"
            )
        return self.registry
