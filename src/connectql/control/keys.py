"""API keys kept in the registry: create, list and revoke them while the server runs.

A change reaches this replica's AccessControl at once and other replicas through the event
bus (`keys.changed`); every replica also re-reads the keys every `refresh_seconds`, since
the database, not the bus, is the source of truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from connectql.control.access import ROLES, AccessControl
from connectql.errors import ControlError
from connectql.events import KEYS, EventBus
from connectql.registry import Registry, StoredKey

log = logging.getLogger("connectql.control")


class KeyService:
    def __init__(
        self,
        registry: Registry | None,
        access: AccessControl,
        bus: EventBus,
        *,
        refresh_seconds: float = 30.0,
    ) -> None:
        self.registry = registry
        self.access = access
        self.bus = bus
        self.refresh_seconds = refresh_seconds
        self._follower: asyncio.Task[None] | None = None

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
        self.access.set_stored_hashes(await self._registry().api_key_hashes())

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
        async with self.bus.subscribe(KEYS) as events:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(events.get(), self.refresh_seconds)
                try:
                    await self.refresh()
                except Exception:  # the database may be away for a moment: keep the last keys
                    log.warning("could not re-read the API keys; keeping the last ones")

    def _registry(self) -> Registry:
        if self.registry is None:
            raise ControlError(
                "this server runs without a registry (stateless); API keys come from "
                "CONNECTQL_API_KEYS only"
            )
        return self.registry
