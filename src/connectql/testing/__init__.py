"""Test helpers for connectors: a fake upstream with a recorder and fault injector, a fake clock."""

from connectql.testing.clock import FakeClock
from connectql.testing.upstream import FakeUpstream, Fault, RecordedRequest

__all__ = ["FakeClock", "FakeUpstream", "Fault", "RecordedRequest"]
