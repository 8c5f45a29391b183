"""Shared fixtures: the demo bookstore upstream and our server in front of it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from connectql.demo.upstream import create_bookstore_app
from connectql.testing import FakeUpstream
from tests.processes import Processes
from tests.support import DEMO_KEY, bookstore_runtime, serving


@pytest.fixture
async def bookstore() -> AsyncIterator[FakeUpstream]:
    """The demo bookstore API behind the recorder and fault injector."""
    async with FakeUpstream(create_bookstore_app(DEMO_KEY)) as upstream:
        yield upstream


@pytest.fixture
async def server(bookstore: FakeUpstream) -> AsyncIterator[str]:
    """Our app under uvicorn serving the bookstore connector; yields its base URL."""
    async with serving(bookstore_runtime(bookstore)) as url:
        yield url


@pytest.fixture
def processes() -> Iterator[Processes]:
    """Start `connectql serve` processes; all are stopped when the test ends, pass or fail."""
    started = Processes()
    try:
        yield started
    finally:
        started.stop_all()
