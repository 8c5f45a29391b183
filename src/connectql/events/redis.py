"""Redis pub/sub transport for the event bus: replicas sharing one Redis see each other's
events. One connection listens for every topic and fans events out to local subscribers."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from connectql.errors import ConfigError
from connectql.events.bus import Event, EventBus

log = logging.getLogger("connectql.events")
CHANNEL_PREFIX = "connectql:"


class RedisBus(EventBus):
    def __init__(self, url: str, prefix: str = CHANNEL_PREFIX) -> None:
        super().__init__()
        self._prefix = prefix
        self._client = aioredis.from_url(url)
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        try:
            await self._client.ping()
        except (RedisError, OSError) as exc:
            raise ConfigError(f"cannot reach Redis at REDIS_URL: {type(exc).__name__}") from None
        self._listener = asyncio.create_task(self._listen())
        await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self._client.aclose()

    async def publish(self, topic: str, event: Event) -> None:
        payload = orjson.dumps({**event, "origin": event.get("origin", self.origin)})
        await self._client.publish(self._prefix + topic, payload)

    async def _listen(self) -> None:
        while True:
            try:
                async with self._client.pubsub() as pubsub:
                    await pubsub.psubscribe(self._prefix + "*")
                    self._ready.set()
                    async for message in pubsub.listen():
                        if message.get("type") != "pmessage":
                            continue
                        channel = message["channel"].decode()
                        topic = channel[len(self._prefix) :]
                        try:
                            event = orjson.loads(message["data"])
                        except orjson.JSONDecodeError:
                            continue
                        self._deliver(topic, event)
            except (RedisError, OSError) as exc:
                log.warning("event bus: Redis connection lost (%s); reconnecting", exc)
                await asyncio.sleep(1)
