"""The event bus: health, metrics and schema events between parts of a replica and between
replicas. In-process by default; Redis pub/sub when REDIS_URL is set.

Events are small JSON-able dicts on named topics. Every event carries `origin`, the id of the
replica that published it, so a replica can ignore the echo of its own events.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Any

Event = dict[str, Any]

HEALTH = "connector.health"
SCHEMA = "schema.changed"
REGISTRY = "registry.changed"
KEYS = "keys.changed"
RECONNECTED = "bus.reconnected"
"""Delivered on this replica only, when the bus is back after losing events: followers
re-read the registry (the source of truth) rather than wait for their next check."""

QUEUE_SIZE = 256
"""Events a slow subscriber may lag behind before the oldest are dropped."""


class EventBus(ABC):
    def __init__(self) -> None:
        self.origin = uuid.uuid4().hex[:12]
        self._subscribers: dict[str, set[asyncio.Queue[Event]]] = {}

    @abstractmethod
    async def publish(self, topic: str, event: Event) -> None:
        """Deliver `event` to every subscriber of `topic`, on every replica. Never raises:
        callers publish after committing, and a lost event is caught up from the registry."""

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    @contextlib.asynccontextmanager
    async def subscribe(self, *topics: str) -> AsyncIterator[asyncio.Queue[Event]]:
        """A queue receiving the topics' events while the context is open."""
        queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_SIZE)
        for topic in topics:
            self._subscribers.setdefault(topic, set()).add(queue)
        try:
            yield queue
        finally:
            for topic in topics:
                self._subscribers[topic].discard(queue)

    def deliver_local(self, topic: str, event: Event) -> None:
        """Deliver to this replica's subscribers only (its own schema's changes)."""
        self._deliver(topic, event)

    def _deliver(self, topic: str, event: Event) -> None:
        for queue in list(self._subscribers.get(topic, ())):
            if queue.full():  # a stalled subscriber loses its oldest event, not the bus
                queue.get_nowait()
            queue.put_nowait(event)


class LocalBus(EventBus):
    """Events within this process only."""

    async def publish(self, topic: str, event: Event) -> None:
        self._deliver(topic, {**event, "origin": event.get("origin", self.origin)})
