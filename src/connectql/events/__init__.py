"""Events between the parts of a replica and between replicas."""

from connectql.events.bus import HEALTH, KEYS, REGISTRY, SCHEMA, Event, EventBus, LocalBus

__all__ = ["HEALTH", "KEYS", "REGISTRY", "SCHEMA", "Event", "EventBus", "LocalBus", "open_bus"]


def open_bus(redis_url: str | None, prefix: str = "connectql:") -> EventBus:
    """Redis pub/sub when a URL is given (channels named `prefix` + topic), else in-process."""
    if redis_url:
        from connectql.events.redis import RedisBus

        return RedisBus(redis_url, prefix)
    return LocalBus()
