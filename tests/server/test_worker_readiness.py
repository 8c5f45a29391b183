"""A worker of `serve --workers N` is ready once every worker accepts connections: a pool
opened on its first "ready" would otherwise stay on worker 1 (connections stay where the
kernel put them when they were opened)."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from connectql.server.app import create_app
from connectql.server.worker import WorkerContext
from connectql.testing import FakeUpstream
from tests.support import bookstore_runtime, running
from tests.support import test_access as keys_for_tests


async def test_a_worker_is_ready_once_the_supervisor_has_seen_all_start(
    tmp_path: Path, bookstore: FakeUpstream
) -> None:
    for directory in ("events", "metrics"):
        (tmp_path / directory).mkdir()
    worker = WorkerContext(index=1, peers=tmp_path / "events", metrics=tmp_path / "metrics")
    app = create_app(bookstore_runtime(bookstore), access=keys_for_tests(), worker=worker)
    async with running(app) as url, aiohttp.ClientSession() as http:
        async with http.get(f"{url}/readyz") as resp:
            waiting = resp.status, await resp.json()
        worker.all_started.touch()  # what the supervisor does when the last one is up
        async with http.get(f"{url}/readyz") as resp:
            started = resp.status, await resp.json()
    assert waiting[0] == 503
    assert waiting[1]["ready"] is False
    assert waiting[1]["worker"]["index"] == 1
    assert started[0] == 200
    assert started[1]["ready"] is True
