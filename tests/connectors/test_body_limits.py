"""An upstream's answer is read up to `source.max_body_bytes`, counted after decompression:
an endless body or a gzip bomb fails the call with BAD_RESPONSE, memory stays bounded, and the
next call works."""

from __future__ import annotations

import asyncio
import contextlib
import os
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from connectql.connectors.connector import Connector
from connectql.errors import BadResponse
from connectql.runtime import Runtime
from connectql.spec.models import DEFAULT_MAX_BODY_BYTES, ConnectorSpec
from connectql.testing import FakeUpstream
from tests.support import execute, serving

CHUNK = b"0" * (1 << 16)
SAFETY_STOP = 4 << 30
"""The fakes stop by themselves after this many bytes, should a client never hang up."""


async def endless(request: web.Request) -> web.StreamResponse:
    """A JSON-looking body that never ends (until the client hangs up)."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):
        await response.write(b'{"data": "')
        for _ in range(SAFETY_STOP // len(CHUNK)):
            await response.write(CHUNK)
    return response


async def gzip_bomb(request: web.Request) -> web.StreamResponse:
    """A few KiB on the wire per hundred MiB once inflated, without end."""
    response = web.StreamResponse(
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}
    )
    await response.prepare(request)
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip stream
    zeros = bytes(1 << 20)
    with contextlib.suppress(ConnectionError):
        await response.write(squeeze.compress(b'{"data": "'))
        for _ in range(SAFETY_STOP // len(zeros)):
            await response.write(squeeze.compress(zeros) + squeeze.flush(zlib.Z_SYNC_FLUSH))
            await asyncio.sleep(0)  # writes this small never wait: let the client (same loop) read
    return response


async def small(request: web.Request) -> web.Response:
    return web.json_response({"data": "fine"})


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    fake = FakeUpstream()
    fake.app.router.add_get("/endless", endless)
    fake.app.router.add_get("/bomb", gzip_bomb)
    fake.app.router.add_get("/small", small)
    async with fake:
        yield fake


def spec(limit: int | None) -> ConnectorSpec:
    source: dict[str, Any] = {"base_url": "{config.base_url}", "retry": {"max_attempts": 1}}
    if limit is not None:
        source["max_body_bytes"] = limit
    return ConnectorSpec.model_validate(
        {
            "spec_version": 1,
            "connector": {"name": "big"},
            "config": {"base_url": {"required": True}},
            "source": source,
            "operations": {
                name: {
                    "request": {"path": f"/{name}"},
                    "response": {"type": "String", "records": "data"},
                }
                for name in ("endless", "bomb", "small")
            },
        }
    )


def rss() -> int:
    """This process's resident memory now, in bytes."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextlib.asynccontextmanager
async def peak_rss() -> AsyncIterator[list[int]]:
    """Samples RSS while the block runs; yields [baseline, peak]."""
    seen = [rss(), rss()]

    async def sample() -> None:
        while True:
            seen[1] = max(seen[1], rss())
            await asyncio.sleep(0.005)

    sampler = asyncio.create_task(sample())
    try:
        yield seen
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        seen[1] = max(seen[1], rss())


OPERATIONS = [pytest.param("endless", id="endless-body"), pytest.param("bomb", id="gzip-bomb")]


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_a_body_past_the_limit_fails_and_the_next_call_works(
    upstream: FakeUpstream, operation: str
) -> None:
    connector = Connector(spec(1 << 20), {"base_url": upstream.url})
    try:
        with pytest.raises(BadResponse, match="larger than 1 MiB") as failed:
            await connector.execute(operation, {})
        assert failed.value.extensions()["connector"] == "big"
        assert failed.value.extensions()["operation"] == operation
        assert await connector.execute("small", {}) == "fine"
    finally:
        await connector.stop()


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_memory_stays_bounded_at_the_default_limit(
    upstream: FakeUpstream, operation: str
) -> None:
    connector = Connector(spec(None), {"base_url": upstream.url})
    try:
        async with peak_rss() as seen:
            with pytest.raises(BadResponse, match="larger than 32 MiB"):
                await connector.execute(operation, {})
        # the body held is at most the limit; allow as much again for buffers and the heap
        assert seen[1] - seen[0] < 3 * DEFAULT_MAX_BODY_BYTES, seen
        assert await connector.execute("small", {}) == "fine"
    finally:
        await connector.stop()


async def test_the_graphql_error_is_bad_response(upstream: FakeUpstream, tmp_path: Path) -> None:
    runtime = Runtime()
    runtime.add(spec(1 << 16), {"base_url": upstream.url})
    async with serving(runtime) as url:
        result = await execute(url, "{ big { bomb small } }")
    assert result.data == {"big": {"bomb": None, "small": "fine"}}
    error = result.errors[0]
    assert error["extensions"]["code"] == "BAD_RESPONSE"
    assert error["message"] == "the upstream's answer is larger than 64 KiB (source.max_body_bytes)"


def test_the_limit_is_documented_in_the_spec_schema() -> None:
    field = ConnectorSpec.model_json_schema()["$defs"]["Source"]["properties"]["max_body_bytes"]
    assert field["default"] == 32 * 1024 * 1024
    assert "decompression" in field["description"]
    with pytest.raises(ValueError, match="greater than 0"):
        spec(0)
