"""Retry timing: exponential backoff with full jitter, and the upstream's `Retry-After`."""

from __future__ import annotations

import random
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

from connectql.spec.models import RetryPolicy


def delay_for(
    attempt: int, policy: RetryPolicy, retry_after: float | None, rng: random.Random
) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based).

    A `Retry-After` the upstream sent wins when the policy respects it; otherwise the wait is
    drawn uniformly from [0, min(max, base * 2^(attempt-1))] ("full jitter"), or is that cap
    itself when jitter is off.
    """
    if retry_after is not None and policy.respect_retry_after:
        return max(0.0, retry_after)
    cap: float = min(policy.backoff.max, policy.backoff.base * 2 ** (attempt - 1))
    if policy.backoff.jitter == "full":
        return rng.uniform(0.0, cap)
    return cap


def retry_after_from(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds the upstream asked us to wait, from `retry-after-ms` or `Retry-After`.

    `Retry-After` may be delta-seconds or an HTTP date (RFC 9110 §10.2.3); `now` is the
    wall-clock time the date is measured against. Unparseable values are ignored.
    """
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)
