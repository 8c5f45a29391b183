"""Per-request dataloaders: every upstream read in one GraphQL request goes through these.

One `Batcher` per (connector, operation) and request. Keys are operation arguments; equal
arguments are fetched once. Operations with `batch` send one multi-get per batch
(`mode: request`) or bounded parallel single calls (`mode: fan_out`); others fan out too.
A whole page's links are handed over as one list (`Batcher.load_all`): one waiter for the
page, not a future and a callback per item.
A paginated field's answer is kept by its place in the response (`once`): running the
operation again (the differential executor) asks no upstream again, while two fields with
the same arguments still fetch their own lists.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

import orjson

from connectql.connectors.callers import Caller
from connectql.connectors.connector import Connector
from connectql.errors import ConnectorError
from connectql.spec.paths import parse_path

DEFAULT_CONCURRENCY = 10

Args = Mapping[str, Any]
T = TypeVar("T")


def args_key(args: Args) -> bytes:
    return orjson.dumps(args, option=orjson.OPT_SORT_KEYS)


class _Pending:
    def __repr__(self) -> str:
        return "PENDING"


PENDING: Any = _Pending()
"""`Batcher.answer` of a key with no answer yet."""


class _Batch:
    """Keys asked for in one turn of the event loop, and who waits for their answers."""

    __slots__ = ("args", "keys", "waiters")

    def __init__(self) -> None:
        self.keys: list[bytes] = []
        self.args: list[Args] = []
        self.waiters: list[tuple[bytes | None, asyncio.Future[Any]]] = []
        """(key, future of its value) for one key's asker; (None, future) for a list's."""


class Batcher:
    """One operation's dataloader in one request: each distinct argument set is fetched once,
    and the keys asked for in one turn of the event loop go to `fetch` as one list (split in
    lists of `max_batch`). `fetch` answers a value or an exception per key; an exception it
    raises is every key's answer."""

    def __init__(
        self, fetch: Callable[[list[Args]], Awaitable[Sequence[Any]]], max_batch: int | None
    ) -> None:
        self._fetch = fetch
        self._max_batch = max_batch
        self.answers: dict[bytes, Any] = {}
        """Settled answers by key: the value, or the exception to raise."""
        self._running: dict[bytes, _Batch] = {}
        self._open: _Batch | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.fetches = 0
        """Batches sent to `fetch` so far."""

    def answer(self, key: bytes) -> Any:
        """The settled value of `key` (an error is raised), or `PENDING`."""
        found = self.answers.get(key, PENDING)
        if isinstance(found, BaseException):
            raise found
        return found

    def now_or_later(self, args: Args) -> Any:
        """The value for `args` if this request has it already (an error is raised), else an
        awaitable of it. A settled value lets a field complete without awaiting."""
        key = args_key(args)
        found = self.answer(key)
        if found is not PENDING:
            return found
        future = asyncio.get_running_loop().create_future()
        self._enqueue(key, args).waiters.append((key, future))
        return future

    async def load(self, args: Args) -> Any:
        found = self.now_or_later(args)
        return await found if isinstance(found, asyncio.Future) else found

    def load_all(self, keyed: Mapping[bytes, Args]) -> Awaitable[Any] | None:
        """Ask for every key of `keyed` not answered yet: an awaitable done when they all
        are (None when they are already), after which `answer` reads them."""
        batches: set[_Batch] = set()
        answers = self.answers
        for key, args in keyed.items():
            if key not in answers:
                batches.add(self._enqueue(key, args))
        if not batches:
            return None
        loop = asyncio.get_running_loop()
        parts = []
        for batch in batches:  # one, unless max_batch split them or some were under way
            part: asyncio.Future[None] = loop.create_future()
            batch.waiters.append((None, part))
            parts.append(part)
        return parts[0] if len(parts) == 1 else asyncio.gather(*parts)

    def _enqueue(self, key: bytes, args: Args) -> _Batch:
        batch = self._running.get(key)
        if batch is None:
            batch = self._open
            if batch is None or (self._max_batch and len(batch.keys) >= self._max_batch):
                batch = self._open = _Batch()
                asyncio.get_running_loop().call_soon(self._dispatch, batch)
            batch.keys.append(key)
            batch.args.append(args)
            self._running[key] = batch
        return batch

    def _dispatch(self, batch: _Batch) -> None:
        if self._open is batch:
            self._open = None
        task = asyncio.ensure_future(self._run(batch))
        self._tasks.add(task)  # a task nobody holds may be collected while it runs
        task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: _Batch) -> None:
        self.fetches += 1
        try:
            values: Sequence[Any] = await self._fetch(batch.args)
            if len(values) != len(batch.keys):
                raise RuntimeError(
                    f"a batch of {len(batch.keys)} keys was answered with {len(values)} values"
                )
        except asyncio.CancelledError:
            for key in batch.keys:
                del self._running[key]  # asked again, fetched again
            for _, future in batch.waiters:
                future.cancel()
            raise
        except Exception as error:  # every key's answer
            values = [error] * len(batch.keys)
        answers = self.answers
        for key, value in zip(batch.keys, values, strict=True):
            answers[key] = value
            del self._running[key]
        for asked, future in batch.waiters:
            if future.done():
                continue
            if asked is None:
                future.set_result(None)
                continue
            value = answers[asked]
            if isinstance(value, BaseException):
                future.set_exception(value)
            else:
                future.set_result(value)


class Loaders:
    """The dataloaders of one GraphQL request, and its caller: every call they make carries
    the request's headers to connectors that forward some."""

    def __init__(self, caller: Caller | None = None) -> None:
        self._loaders: dict[tuple[int, str], Batcher] = {}
        self._fetches: dict[tuple[int, bytes], asyncio.Future[Any]] = {}
        self.caller = caller
        self.linked: dict[tuple[tuple[int, int], int], tuple[Any, Batcher, bytes]] = {}
        """What `_prefetch` asked for a link (`LinkedArgs.key`) of a record (by id; the
        record kept with it): the loader and key, so the field takes the answer without
        rendering its arguments again."""
        self._fetched = 0

    def get(self, connector: Connector, op_name: str) -> Batcher:
        key = (id(connector), op_name)
        loader = self._loaders.get(key)
        if loader is None:
            op = connector.operation(op_name)
            max_batch = (
                op.batch.max_batch if op.batch and op.batch.mode in ("request", "hook") else None
            )
            # no reference back to self: a request's data is freed when it ends, not by the
            # cyclic GC (which stalled requests for tens of ms when it ran)
            loader = Batcher(partial(_load, connector, op_name, caller=self.caller), max_batch)
            self._loaders[key] = loader
        return loader

    def close(self) -> None:
        """Forget the request's answers once it is answered. An error's traceback holds
        frames of this request, a reference cycle through these dicts back to the error:
        emptied, the cycle holds little, and the data is freed at once, not by the cyclic
        GC."""
        for loader in self._loaders.values():
            loader.answers.clear()
        self._loaders.clear()
        self._fetches.clear()
        self.linked.clear()

    @property
    def fetches(self) -> int:
        """How many loads (batches, pages, record lists) went to connectors so far."""
        return self._fetched + sum(loader.fetches for loader in self._loaders.values())

    async def load(self, connector: Connector, op_name: str, args: Args) -> Any:
        return await self.get(connector, op_name).load(args)

    def prefetched(self, link: tuple[int, int], record: Any) -> Any:
        """What `_prefetch` loaded for `link` of `record`: the value, an exception (not
        raised), or PENDING when it asked for nothing or has no answer yet."""
        entry = self.linked.get((link, id(record)))
        if entry is None or entry[0] is not record:
            return PENDING
        return entry[1].answers.get(entry[2], PENDING)

    async def once(self, connector: Connector, key: Args, make: Callable[[], Awaitable[T]]) -> T:
        """`make()`'s answer or error, shared by every ask of `key` (JSON-able) for
        `connector` in this request; one cancelled with its asker is made again by the next."""
        slot = (id(connector), args_key(key))
        future = self._fetches.get(slot)
        if future is not None and not future.cancelled():
            result: T = await future
            return result
        future = asyncio.get_running_loop().create_future()
        self._fetches[slot] = future
        try:
            made = await make()  # by the first asker itself: no task of its own
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved: the asker raises it
            del future  # it keeps this frame in its traceback: no cycle back to it
            raise
        future.set_result(made)
        return made

    async def fetch(self, call: Awaitable[T]) -> T:
        """Await `call`, a connector's fetch made for this request, counted in `fetches`."""
        self._fetched += 1
        return await call


def request_loaders(context: Any) -> Loaders:
    """The dataloaders of the request whose GraphQL `context` this is (a RequestContext,
    or a plain dict given to `schema.execute`, which gets its own)."""
    loaders = getattr(context, "loaders", None)
    if loaders is None and isinstance(context, dict):
        loaders = context.setdefault("loaders", Loaders())
    assert isinstance(loaders, Loaders), "the GraphQL context carries no Loaders"
    return loaders


async def _load(
    connector: Connector, op_name: str, keys: list[Args], caller: Caller | None = None
) -> list[Any]:
    batch = connector.operation(op_name).batch
    if batch is not None and batch.warm is not None:
        return await _load_warmed(connector, op_name, keys, caller)
    return await _load_keys(connector, op_name, keys, caller)


async def _load_warmed(
    connector: Connector, op_name: str, keys: list[Args], caller: Caller | None = None
) -> list[Any]:
    """List the warm operation once, answer every key it holds; fetch only the rest."""
    batch = connector.operation(op_name).batch
    assert batch is not None
    assert batch.warm is not None
    key_path = parse_path(batch.warm.key)
    try:
        listed = await _list_all(connector, batch.warm.operation, caller)
    except ConnectorError:
        listed = []  # warming is an optimisation: fall back to fetching each key
    known = {str(key_path.get(record)): record for record in listed}
    results: list[Any] = [known.get(str(args.get(batch.key))) for args in keys]
    missing = [i for i, found in enumerate(results) if found is None]
    if missing:
        fetched = await _load_keys(connector, op_name, [keys[i] for i in missing], caller)
        for i, value in zip(missing, fetched, strict=True):
            results[i] = value
    return results


async def _list_all(connector: Connector, op_name: str, caller: Caller | None = None) -> list[Any]:
    paginator = connector.paginator(op_name)
    if paginator is None:
        result = await connector.execute(op_name, {}, caller=caller)
        return result if isinstance(result, list) else []
    limit: int = getattr(connector.operation(op_name).pagination, "max_items", 1000)
    return await connector.fetch_records(op_name, {}, limit, caller=caller)


async def _load_keys(
    connector: Connector, op_name: str, keys: list[Args], caller: Caller | None = None
) -> list[Any]:
    batch = connector.operation(op_name).batch
    if batch is None and len(keys) == 1:
        try:
            return [await connector.execute(op_name, keys[0], caller=caller)]
        except ConnectorError as exc:
            return [exc]
    if batch is None:
        semaphore = asyncio.Semaphore(DEFAULT_CONCURRENCY)

        async def one(args: Args) -> Any:
            async with semaphore:
                try:
                    return await connector.execute(op_name, args, caller=caller)
                except ConnectorError as exc:
                    return exc

        return list(await asyncio.gather(*(one(a) for a in keys)))
    # Keys that differ only in the batch key share one batch; other arguments split groups.
    groups: dict[bytes, list[int]] = {}
    for i, args in enumerate(keys):
        rest = {k: v for k, v in args.items() if k != batch.key} if len(args) > 1 else None
        groups.setdefault(args_key(rest) if rest else b"", []).append(i)
    results: list[Any] = [None] * len(keys)
    for indexes in groups.values():
        rest = {k: v for k, v in keys[indexes[0]].items() if k != batch.key}
        values = await connector.fetch_batch(
            op_name, [keys[i].get(batch.key) for i in indexes], rest, caller=caller
        )
        for i, value in zip(indexes, values, strict=True):
            results[i] = value
    return results
