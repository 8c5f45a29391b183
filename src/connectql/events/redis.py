"""Redis pub/sub transport for the event bus: replicas sharing one Redis see each other's
events. One connection listens for every topic and fans events out to local subscribers.

Redis speeds events up; it is not the source of truth. While it is away, publishing still
succeeds (this replica's subscribers get the event, the others miss it), one WARNING says so,
and on reconnect `bus.reconnected` tells followers to catch up from the registry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import orjson
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from connectql.errors import ConfigError
from connectql.events.bus import RECONNECTED, Event, EventBus

log = logging.getLogger("connectql.events")
CHANNEL_PREFIX = "connectql:"
RETRY_SECONDS = 1.0
"""Pause between attempts to listen again after Redis went away."""


class RedisBus(EventBus):
    def __init__(self, url: str, prefix: str = CHANNEL_PREFIX) -> None:
        super().__init__()
        self._prefix = prefix
        try:
            self._client = aioredis.from_url(url)
        except ValueError:
            raise ConfigError("REDIS_URL is not a redis:// (or rediss://, unix://) URL") from None
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._reachable = True

    async def start(self) -> None:
        """Listen; a replica starts even while Redis is away (the listener keeps trying, and
        the registry keeps replicas in step meanwhile)."""
        self._listener = asyncio.create_task(self._listen())
        try:
            await self._client.ping()
        except (RedisError, OSError) as exc:
            self._lost(exc)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self._client.aclose()

    async def publish(self, topic: str, event: Event) -> None:
        """Deliver here at once (Redis or not), then to the other replicas through Redis."""
        payload = orjson.dumps({**event, "origin": event.get("origin", self.origin)})
        self._deliver(topic, orjson.loads(payload))  # the same JSON the other replicas get
        try:
            try:
                await self._client.publish(self._prefix + topic, payload)
            except RedisConnectionError:  # pooled before Redis restarted: once more, anew
                await self._client.publish(self._prefix + topic, payload)
        except (RedisError, OSError) as exc:
            self._lost(exc)
        else:
            self._back()

    async def _listen(self) -> None:
        missed = False
        while True:
            try:
                async with self._client.pubsub() as pubsub:
                    await pubsub.psubscribe(self._prefix + "*")
                    self._ready.set()
                    if missed:
                        missed = False
                        self._back()
                        self._deliver(RECONNECTED, {"origin": self.origin})
                    async for message in pubsub.listen():
                        if message.get("type") != "pmessage":
                            continue
                        channel = message["channel"].decode()
                        topic = channel[len(self._prefix) :]
                        try:
                            event = orjson.loads(message["data"])
                        except orjson.JSONDecodeError:
                            continue
                        # our own events were delivered here by publish
                        if isinstance(event, dict) and event.get("origin") != self.origin:
                            self._deliver(topic, event)
            except (RedisError, OSError) as exc:
                missed = True
                self._lost(exc)
                await asyncio.sleep(RETRY_SECONDS)

    def _lost(self, exc: Exception) -> None:
        """One WARNING per outage, however many events it costs."""
        if self._reachable:
            self._reachable = False
            log.warning(
                "event bus: Redis is unreachable (%s); events between replicas are lost until "
                "it is back, and replicas catch up from the registry meanwhile",
                exc,
            )

    def _back(self) -> None:
        if not self._reachable:
            self._reachable = True
            log.info("event bus: Redis is reachable again")
