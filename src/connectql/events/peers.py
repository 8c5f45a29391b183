"""Events between the worker processes of one `connectql serve --workers N`, without Redis.

Each worker binds a Unix datagram socket in a directory the workers share (`<pid>.sock`);
publishing delivers here at once and sends the event to every other socket in the directory.
A datagram arrives whole or not at all, and there is no broker to keep alive: a worker that
died leaves a socket nobody reads, which refuses the datagram and is skipped. As with Redis,
the registry stays the source of truth: an event a busy worker could not take (its queue full)
is caught up at its next registry check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from pathlib import Path

import orjson

from connectql.events.bus import Event, EventBus

log = logging.getLogger("connectql.events")

MAX_EVENT = 64 * 1024
"""Bytes one event may take; events are a few hundred bytes."""


class PeerBus(EventBus):
    def __init__(self, directory: Path) -> None:
        super().__init__()
        self._directory = directory
        self._path = directory / f"{os.getpid()}.sock"
        self._socket: socket.socket | None = None
        self._full_warned = False

    async def start(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setblocking(False)
        with contextlib.suppress(FileNotFoundError):  # a recycled pid's leftover
            self._path.unlink()
        sock.bind(str(self._path))
        self._socket = sock
        asyncio.get_running_loop().add_reader(sock.fileno(), self._receive)

    async def close(self) -> None:
        if self._socket is None:
            return
        asyncio.get_running_loop().remove_reader(self._socket.fileno())
        self._socket.close()
        self._socket = None
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()

    async def publish(self, topic: str, event: Event) -> None:
        """Deliver here, then to every other worker (never blocks, never raises)."""
        payload = orjson.dumps([topic, {**event, "origin": event.get("origin", self.origin)}])
        self._deliver(*orjson.loads(payload))  # the same JSON the other workers get
        if self._socket is None:
            return
        for peer in self._directory.glob("*.sock"):
            if peer == self._path:
                continue
            try:
                self._socket.sendto(payload, str(peer))
            except (ConnectionRefusedError, FileNotFoundError):
                continue  # a worker that is gone; the supervisor removes its socket
            except BlockingIOError:  # its queue is full: it catches up from the registry
                if not self._full_warned:
                    self._full_warned = True
                    log.warning("event bus: worker socket %s is full; event dropped", peer.name)
            except OSError as exc:
                log.warning("event bus: cannot reach worker socket %s: %s", peer.name, exc)

    def _receive(self) -> None:
        assert self._socket is not None
        while True:
            try:
                payload = self._socket.recv(MAX_EVENT)
            except BlockingIOError:
                return
            try:
                topic, event = orjson.loads(payload)
            except (orjson.JSONDecodeError, ValueError, TypeError):
                continue
            if isinstance(topic, str) and isinstance(event, dict):
                self._deliver(topic, event)
