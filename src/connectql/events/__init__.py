"""Events between the parts of a replica and between replicas."""

from pathlib import Path

from connectql.events.bus import HEALTH, KEYS, REGISTRY, SCHEMA, Event, EventBus, LocalBus

__all__ = ["HEALTH", "KEYS", "REGISTRY", "SCHEMA", "Event", "EventBus", "LocalBus", "open_bus"]


def open_bus(
    redis_url: str | None, prefix: str = "connectql:", peers: Path | None = None
) -> EventBus:
    """Redis pub/sub when a URL is given (channels named `prefix` + topic), else between the
    worker processes whose sockets are in `peers` when given, else in-process."""
    if redis_url:
        from connectql.events.redis import RedisBus

        return RedisBus(redis_url, prefix)
    if peers is not None:
        from connectql.events.peers import PeerBus

        return PeerBus(peers)
    return LocalBus()
