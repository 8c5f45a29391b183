"""Backoff, Retry-After parsing, the token bucket and the circuit breaker, on a fake clock."""

from __future__ import annotations

import email.utils
import random

import pytest

from connectql.connectors.breaker import CircuitBreaker
from connectql.connectors.ratelimit import TokenBucket
from connectql.connectors.retry import delay_for, retry_after_from
from connectql.errors import CircuitOpen, RateLimited
from connectql.spec.models import CircuitBreakerPolicy, RetryPolicy
from connectql.testing import FakeClock


def test_full_jitter_stays_under_the_exponential_cap() -> None:
    policy = RetryPolicy.model_validate({"backoff": {"base": 0.5, "max": 4}})
    rng = random.Random(7)
    for attempt, cap in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)]:
        delays = [delay_for(attempt, policy, None, rng) for _ in range(200)]
        assert all(0 <= d <= cap for d in delays)
        assert max(delays) > cap * 0.8  # spread over the whole range, not stuck low


def test_no_jitter_is_the_cap_and_retry_after_wins() -> None:
    policy = RetryPolicy.model_validate({"backoff": {"base": 1, "max": 10, "jitter": "none"}})
    rng = random.Random(0)
    assert [delay_for(a, policy, None, rng) for a in (1, 2, 3, 4, 5)] == [1, 2, 4, 8, 10]
    assert delay_for(1, policy, 2.5, rng) == 2.5
    ignoring = RetryPolicy.model_validate(
        {"respect_retry_after": False, "backoff": {"jitter": "none"}}
    )
    assert delay_for(1, ignoring, 60, rng) == 0.5


def test_retry_after_in_seconds_as_a_date_and_in_milliseconds() -> None:
    now = 1_700_000_000.0
    assert retry_after_from({"Retry-After": "2"}, now) == 2.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert retry_after_from({"Retry-After": date}, now) == pytest.approx(30, abs=1)
    past = email.utils.formatdate(now - 30, usegmt=True)
    assert retry_after_from({"Retry-After": past}, now) == 0.0
    assert retry_after_from({"retry-after-ms": "1500", "Retry-After": "9"}, now) == 1.5
    assert retry_after_from({"Retry-After": "soon"}, now) is None
    assert retry_after_from({}, now) is None


async def test_token_bucket_allows_a_burst_then_paces() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=4, burst=2, clock=clock)
    waits = [await bucket.acquire(max_wait=10) for _ in range(4)]
    assert waits[:2] == [0, 0]
    assert waits[2:] == [pytest.approx(0.25), pytest.approx(0.25)]
    clock.advance(10)  # refills to the burst, never beyond
    assert [await bucket.acquire(10) for _ in range(3)][:2] == [0, 0]


async def test_token_bucket_refuses_a_wait_longer_than_max_wait() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=1, burst=1, clock=clock)
    await bucket.acquire(max_wait=0)
    with pytest.raises(RateLimited) as caught:
        await bucket.acquire(max_wait=0.5)
    assert caught.value.retry_after == pytest.approx(1.0)
    assert clock.sleeps == []


async def test_penalty_holds_every_caller() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=100, burst=10, clock=clock)
    bucket.penalize(3)
    assert await bucket.acquire(max_wait=5) == pytest.approx(3)
    assert await bucket.acquire(max_wait=5) == 0


def test_breaker_walks_closed_open_half_open_closed() -> None:
    clock = FakeClock()
    changes: list[tuple[str, str]] = []
    breaker = CircuitBreaker(
        CircuitBreakerPolicy(failure_threshold=3, cool_down=10),
        clock,
        lambda old, new: changes.append((old, new)),
    )
    for _ in range(2):
        breaker.before_call()
        breaker.record_failure()
    breaker.before_call()
    breaker.record_success()  # a success resets the count
    for _ in range(3):
        breaker.before_call()
        breaker.record_failure()
    assert breaker.state == "open"
    with pytest.raises(CircuitOpen, match=r"next trial in 10\.0 s"):
        breaker.before_call()
    clock.advance(10)
    assert breaker.state == "half_open"
    breaker.before_call()  # the one trial call
    with pytest.raises(CircuitOpen, match="half-open"):
        breaker.before_call()
    breaker.record_failure()  # the trial failed: open again
    assert breaker.state == "open"
    clock.advance(10)
    breaker.before_call()
    breaker.record_success()
    assert breaker.state == "closed"
    assert changes == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]


def test_an_abandoned_trial_call_frees_its_slot() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(CircuitBreakerPolicy(failure_threshold=1, cool_down=5), clock)
    breaker.record_failure()
    clock.advance(5)
    breaker.before_call()
    breaker.release()  # e.g. the call was cancelled
    breaker.before_call()  # a new trial may go
