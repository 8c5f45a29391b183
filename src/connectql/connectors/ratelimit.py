"""A token bucket per connector: at most `rate` calls per second with bursts of `burst`."""

from __future__ import annotations

import asyncio

from connectql.connectors.clock import Clock
from connectql.errors import RateLimited


class TokenBucket:
    def __init__(self, rate: float, burst: int, clock: Clock) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock.monotonic()
        self._blocked_until = 0.0
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    async def acquire(self, max_wait: float) -> float:
        """Take one token, sleeping until one is free; return the seconds waited.

        Raises RateLimited instead of waiting longer than `max_wait`. Callers queue in
        arrival order (the lock), so a burst is spread evenly rather than stampeding.
        """
        async with self._lock:
            self._refill()
            now = self._clock.monotonic()
            wait = max(0.0, self._blocked_until - now)
            if self._tokens < 1.0:
                wait = max(wait, (1.0 - self._tokens) / self.rate)
            if wait > max_wait:
                raise RateLimited(
                    f"the connector's rate limit would need a {wait:.2f} s wait "
                    f"(more than max_wait {max_wait:g} s)",
                    retry_after=wait,
                )
            if wait > 0:
                await self._clock.sleep(wait)
                self._refill()
            self._tokens = max(0.0, self._tokens - 1.0)
            return wait

    def penalize(self, seconds: float) -> None:
        """Hold every caller for `seconds` (the upstream sent a 429 with Retry-After)."""
        self._blocked_until = max(self._blocked_until, self._clock.monotonic() + seconds)
