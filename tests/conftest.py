"""Shared fixtures: the demo bookstore upstream and our server in front of it.

Every query of the suite runs through both executors (`CONNECTQL_EXECUTOR=differential`,
inherited by the servers tests start as subprocesses): a test during which the compiled plan
and graphql-core gave different results fails (`executors_agree`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator

import pytest

os.environ.setdefault("CONNECTQL_EXECUTOR", "differential")

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


class _Mismatches(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(autouse=True)
def executors_agree(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test if the compiled plan and graphql-core disagreed on a query it ran
    (logged by connectql.execution; a test that provokes one on purpose is marked
    `executor_mismatch`)."""
    handler = _Mismatches()
    logger = logging.getLogger("connectql.execution")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
    if handler.messages and request.node.get_closest_marker("executor_mismatch") is None:
        pytest.fail("executors disagree:\n" + "\n".join(handler.messages), pytrace=False)
