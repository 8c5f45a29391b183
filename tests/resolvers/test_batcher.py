"""The per-request dataloader: what reaches the fetch function, and what each asker gets."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from connectql.resolvers.loaders import PENDING, Args, Batcher, args_key


class Upstream:
    """A fetch function that records every batch it is given; `fail` names keys answered
    with an error, `explode` makes the whole batch raise, `gate` holds batches back."""

    def __init__(self) -> None:
        self.batches: list[list[Any]] = []
        self.fail: set[Any] = set()
        self.explode = False
        self.gate: asyncio.Event | None = None

    async def fetch(self, keys: list[Args]) -> Sequence[Any]:
        self.batches.append([k["id"] for k in keys])
        if self.gate is not None:
            await self.gate.wait()
        if self.explode:
            raise RuntimeError("the upstream is down")
        return [
            LookupError(f"no {k['id']}") if k["id"] in self.fail else {"id": k["id"]} for k in keys
        ]


def keyed(*ids: str) -> dict[bytes, Args]:
    return {args_key({"id": i}): {"id": i} for i in ids}


async def test_loads_of_one_turn_go_as_one_batch_and_equal_keys_once() -> None:
    upstream = Upstream()
    loader = Batcher(upstream.fetch, None)
    answers = await asyncio.gather(*(loader.load({"id": i}) for i in ["1", "2", "1", "3"]))
    assert answers == [{"id": "1"}, {"id": "2"}, {"id": "1"}, {"id": "3"}]
    assert upstream.batches == [["1", "2", "3"]]
    assert loader.now_or_later({"id": "2"}) == {"id": "2"}  # settled: no awaitable
    assert upstream.batches == [["1", "2", "3"]]


async def test_a_page_of_keys_is_one_waiter_and_answers_are_read_after() -> None:
    upstream = Upstream()
    loader = Batcher(upstream.fetch, None)
    page = keyed("1", "2", "2", "3")
    done = loader.load_all(page)
    assert done is not None
    assert loader.answer(args_key({"id": "1"})) is PENDING
    await done
    assert [loader.answer(k) for k in page] == [{"id": "1"}, {"id": "2"}, {"id": "3"}]
    assert loader.load_all(keyed("1", "3")) is None  # all known: nothing to wait for
    assert upstream.batches == [["1", "2", "3"]]


async def test_max_batch_splits_a_page_and_its_waiter_waits_for_every_part() -> None:
    upstream = Upstream()
    loader = Batcher(upstream.fetch, 2)
    page = keyed("1", "2", "3", "4", "5")
    done = loader.load_all(page)
    assert done is not None
    await done
    assert upstream.batches == [["1", "2"], ["3", "4"], ["5"]]
    assert all(loader.answer(k) == {"id": a["id"]} for k, a in page.items())


async def test_a_key_under_way_is_not_asked_again() -> None:
    upstream = Upstream()
    upstream.gate = asyncio.Event()
    loader = Batcher(upstream.fetch, None)
    first = loader.load_all(keyed("1", "2"))
    await asyncio.sleep(0)  # the first batch is sent and waits at the gate
    second = loader.load_all(keyed("2", "3"))
    assert first is not None
    assert second is not None
    upstream.gate.set()
    await second
    assert first.done()
    assert upstream.batches == [["1", "2"], ["3"]]


async def test_each_key_gets_its_own_error_and_a_raising_fetch_fails_every_key() -> None:
    upstream = Upstream()
    upstream.fail = {"2"}
    loader = Batcher(upstream.fetch, None)
    one, two = loader.load({"id": "1"}), loader.load({"id": "2"})
    assert await one == {"id": "1"}
    with pytest.raises(LookupError, match="no 2"):
        await two
    with pytest.raises(LookupError):
        loader.answer(args_key({"id": "2"}))  # kept for the request, raised to each asker

    upstream.explode = True
    page = keyed("7", "8")
    done = loader.load_all(page)
    assert done is not None
    await done  # a page's waiter never raises: each field raises its own
    for key in page:
        with pytest.raises(RuntimeError, match="the upstream is down"):
            loader.answer(key)


async def test_a_batch_answered_with_the_wrong_count_is_every_key_s_error() -> None:
    async def short(keys: list[Args]) -> Sequence[Any]:
        return [None]

    loader = Batcher(short, None)
    with pytest.raises(RuntimeError, match="2 keys was answered with 1 values"):
        await asyncio.gather(loader.load({"id": "1"}), loader.load({"id": "2"}))


async def test_a_cancelled_batch_is_fetched_again_by_the_next_ask() -> None:
    upstream = Upstream()
    upstream.gate = asyncio.Event()
    loader = Batcher(upstream.fetch, None)
    asker = asyncio.ensure_future(loader.load({"id": "1"}))
    await asyncio.sleep(0.01)
    for task in loader._tasks:  # the request is torn down while the batch is under way
        task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asker
    upstream.gate.set()
    assert await loader.load({"id": "1"}) == {"id": "1"}
    assert upstream.batches == [["1"], ["1"]]
