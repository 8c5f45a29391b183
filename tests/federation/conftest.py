"""Fixtures of the federation tests: the gateway (a real @apollo/gateway in node) and the
reviews subgraph.

Without node/npm or the installed packages (`python -m tests.federation.gateway`), gateway
tests skip, unless CONNECTQL_REQUIRE_GATEWAY=1 (CI), where they fail.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.federation import gateway as gateway_module
from tests.federation.gateway import Composition, GatewayProcess, Subgraphs
from tests.federation.reviews import ReviewsSubgraph, serving_reviews
from tests.processes import Processes

REQUIRE = "CONNECTQL_REQUIRE_GATEWAY"


def require_gateway() -> None:
    """Skip (fail where CONNECTQL_REQUIRE_GATEWAY=1) when the gateway cannot run here."""
    reason = gateway_module.unavailable()
    if reason is None:
        return
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{reason}; {REQUIRE}=1 requires it")
    pytest.skip(reason)


class Gateways:
    """Starts gateways for one test; the `processes` fixture stops them, pass or fail."""

    def __init__(self, processes: Processes, folder: Path) -> None:
        self.processes = processes
        self.folder = folder
        self.started: list[GatewayProcess] = []

    async def start(self, subgraphs: Subgraphs, *, poll_ms: int | None = None) -> GatewayProcess:
        """A gateway over `subgraphs`, listening (bounded wait); fails with its output if
        composition fails or a subgraph cannot be introspected."""
        process = self.new(subgraphs, poll_ms=poll_ms)
        await process.start()
        return process

    def new(self, subgraphs: Subgraphs, *, poll_ms: int | None = None) -> GatewayProcess:
        """A gateway not started yet: `spawn()` it to see how it fails."""
        cwd = self.folder / f"gateway-{len(self.started)}"
        process = GatewayProcess(cwd, subgraphs, poll_ms=poll_ms)
        self.processes.adopt(process)
        self.started.append(process)
        return process

    async def compose(self, subgraphs: Subgraphs, *, repeat: int = 1) -> Composition:
        """Introspect and compose only (no gateway process left running)."""
        return await gateway_module.measure_composition(subgraphs, repeat=repeat)


@pytest.fixture
def gateway(processes: Processes, tmp_path: Path) -> Gateways:
    require_gateway()
    return Gateways(processes, tmp_path)


@pytest.fixture
async def reviews() -> AsyncIterator[ReviewsSubgraph]:
    """The reviews subgraph (tests/federation/reviews.py), seeded, under uvicorn."""
    async with serving_reviews() as subgraph:
        yield subgraph
