"""A circuit breaker: closed → open after N consecutive failures → half-open after a cool-down.

Closed: calls pass. Open: calls fail at once with CIRCUIT_OPEN until `cool_down` has passed.
Half-open: up to `half_open_max_calls` trial calls pass; a success closes the circuit, a
failure opens it again for another cool-down.
"""

from __future__ import annotations

from collections.abc import Callable

from connectql.connectors.clock import Clock
from connectql.errors import CircuitOpen
from connectql.spec.models import CircuitBreakerPolicy

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    def __init__(
        self,
        policy: CircuitBreakerPolicy,
        clock: Clock,
        on_change: Callable[[str, str], None] | None = None,
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._on_change = on_change
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trials = 0

    @property
    def state(self) -> str:
        if self._state == OPEN and self._cooled_down():
            self._set(HALF_OPEN)
        return self._state

    def _cooled_down(self) -> bool:
        return self._clock.monotonic() - self._opened_at >= self.policy.cool_down

    def _set(self, state: str) -> None:
        old, self._state = self._state, state
        if state == HALF_OPEN:
            self._trials = 0
        if old != state and self._on_change is not None:
            self._on_change(old, state)

    def before_call(self) -> None:
        """Raise CircuitOpen if the call may not go out now."""
        state = self.state
        if state == OPEN:
            wait = self.policy.cool_down - (self._clock.monotonic() - self._opened_at)
            raise CircuitOpen(
                f"the circuit is open after {self._failures} consecutive failures; "
                f"next trial in {max(wait, 0):.1f} s"
            )
        if state == HALF_OPEN:
            if self._trials >= self.policy.half_open_max_calls:
                raise CircuitOpen("the circuit is half-open and its trial call is in flight")
            self._trials += 1

    def release(self) -> None:
        """A call ended without a verdict (cancelled, or refused by the rate limiter).

        In half-open state its trial slot is given back, so the breaker cannot stay stuck.
        """
        if self._state == HALF_OPEN and self._trials > 0:
            self._trials -= 1

    def record_success(self) -> None:
        self._failures = 0
        if self._state != CLOSED:
            self._set(CLOSED)

    def record_failure(self) -> None:
        self._failures += 1
        if self._state == HALF_OPEN or (
            self._state == CLOSED and self._failures >= self.policy.failure_threshold
        ):
            self._opened_at = self._clock.monotonic()
            self._set(OPEN)
