"""Per-request dataloaders: every upstream read in one GraphQL request goes through these.

One DataLoader per (connector, operation) and request. Keys are operation arguments; equal
arguments are fetched once. Operations with `batch` send one multi-get per batch
(`mode: request`) or bounded parallel single calls (`mode: fan_out`); others fan out too.
A paginated field's answer is kept by its place in the response (`once`): running the
operation again (the differential executor) asks no upstream again, while two fields with
the same arguments still fetch their own lists.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import orjson
from strawberry.dataloader import DataLoader

from connectql.connectors.callers import Caller
from connectql.connectors.connector import Connector
from connectql.errors import ConnectorError
from connectql.spec.paths import parse_path

DEFAULT_CONCURRENCY = 10

Args = Mapping[str, Any]
T = TypeVar("T")


def args_key(args: Args) -> bytes:
    return orjson.dumps(args, option=orjson.OPT_SORT_KEYS)


class Loaders:
    """The dataloaders of one GraphQL request, and its caller: every call they make carries
    the request's headers to connectors that forward some."""

    def __init__(self, caller: Caller | None = None) -> None:
        self._loaders: dict[tuple[int, str], DataLoader[Args, Any]] = {}
        self._fetches: dict[tuple[int, bytes], asyncio.Future[Any]] = {}
        self.caller = caller
        self.fetches = 0
        """How many loads (batches, pages, record lists) went to connectors so far."""

    def get(self, connector: Connector, op_name: str) -> DataLoader[Args, Any]:
        key = (id(connector), op_name)
        loader = self._loaders.get(key)
        if loader is None:
            op = connector.operation(op_name)
            max_batch = (
                op.batch.max_batch if op.batch and op.batch.mode in ("request", "hook") else None
            )

            async def load(keys: list[Args]) -> Sequence[Any]:
                self.fetches += 1
                return await _load(connector, op_name, keys, self.caller)

            loader = DataLoader(load, max_batch_size=max_batch, cache_key_fn=args_key)
            self._loaders[key] = loader
        return loader

    async def load(self, connector: Connector, op_name: str, args: Args) -> Any:
        return await self.get(connector, op_name).load(args)

    async def once(self, connector: Connector, key: Args, make: Callable[[], Awaitable[T]]) -> T:
        """`make()`'s answer or error, shared by every ask of `key` (JSON-able) for
        `connector` in this request; one cancelled with its asker is made again by the next."""
        slot = (id(connector), args_key(key))
        future = self._fetches.get(slot)
        if future is None or future.cancelled():
            future = asyncio.ensure_future(make())
            self._fetches[slot] = future
        result: T = await future
        return result

    async def fetch(self, call: Awaitable[T]) -> T:
        """Await `call`, a connector's fetch made for this request, counted in `fetches`."""
        self.fetches += 1
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
        rest = {k: v for k, v in args.items() if k != batch.key}
        groups.setdefault(args_key(rest), []).append(i)
    results: list[Any] = [None] * len(keys)
    for indexes in groups.values():
        rest = {k: v for k, v in keys[indexes[0]].items() if k != batch.key}
        values = await connector.fetch_batch(
            op_name, [keys[i].get(batch.key) for i in indexes], rest, caller=caller
        )
        for i, value in zip(indexes, values, strict=True):
            results[i] = value
    return results
