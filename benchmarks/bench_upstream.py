"""What one upstream call costs connectql, against a bare aiohttp request doing the same HTTP
exchange to the same local upstream.

    python benchmarks/bench_upstream.py [--calls 2000] [--concurrency 16] [--rounds 3]
                                        [--case NAME ...] [--mode both|sequential|concurrent]

The demo bookstore upstream runs in a child process, so the CPU time measured here
(`time.process_time`) is the client's alone. Cases, each run `--calls` times one after
another and `--calls` times with `--concurrency` calls in flight:

- `bare-one`: `GET /books/7` with the API key on one pooled aiohttp session, body read and
  decoded with orjson;
- `connectql-one`: `Connector.execute("book", {"id": "7"})` on the demo connector (templates,
  auth, limits, error mapping, metrics, decoding and shaping);
- `bare-batch`: `GET /authors?ids=1,…,40`, decoded and put in key order;
- `connectql-batch`: `Connector.fetch_batch("author", ["1", …, "40"])`, one request.

Printed: CPU µs per call (best of `--rounds`), and connectql's ratio to the bare request.
Then the CPU of connectql's own code per call, on a machine too loaded for the difference of
two network numbers to say much: the same connectql calls with the HTTP exchange
(`connectql.connectors.http.send`) answering from memory what the upstream answered before.
`--case` and `--mode` narrow the run, for a profiler attached to it:
`py-spy record -o up.json --format speedscope -- python benchmarks/bench_upstream.py
--case connectql-one --mode concurrent`.
Numbers are for comparing within one run on one machine; never assert them in tests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson

from local_servers import bookstore, wait_up

API_KEY = "bench-key-0123456789"
KEYS = [str(i) for i in range(1, 41)]
CASES = ["bare-one", "connectql-one", "bare-batch", "connectql-batch"]

Call = Callable[[], Awaitable[Any]]


async def cpu_per_call(call: Call, calls: int, concurrency: int) -> float:
    """CPU µs per call of `calls` calls, `concurrency` of them in flight at a time."""
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    started = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (time.process_time() - started) / calls * 1e6


def cases(session: aiohttp.ClientSession, upstream: str, connector: Any) -> dict[str, Call]:
    headers = {"X-Api-Key": API_KEY}
    ids = ",".join(KEYS)

    async def bare_one() -> Any:
        async with session.get(f"{upstream}/books/7", headers=headers) as resp:
            return orjson.loads(await resp.read())

    async def bare_batch() -> Any:
        async with session.get(f"{upstream}/authors?ids={ids}", headers=headers) as resp:
            found = {a["id"]: a for a in orjson.loads(await resp.read())["authors"]}
        return [found.get(k) for k in KEYS]

    async def connectql_one() -> Any:
        book = await connector.execute("book", {"id": "7"})
        assert book["id"] == "7", book
        return book

    async def connectql_batch() -> Any:
        authors = await connector.fetch_batch("author", KEYS)
        assert authors[-1]["id"] == KEYS[-1], authors[-1]
        return authors

    return {
        "bare-one": bare_one,
        "connectql-one": connectql_one,
        "bare-batch": bare_batch,
        "connectql-batch": connectql_batch,
    }


async def bench(calls: int, concurrency: int, rounds: int, names: list[str], mode: str) -> None:
    from connectql.connectors.connector import Connector
    from connectql.demo.runner import BOOKSTORE_SPEC
    from connectql.spec.loader import load_spec

    stack = contextlib.ExitStack()
    upstream = stack.enter_context(bookstore(API_KEY))
    connector = Connector(load_spec(BOOKSTORE_SPEC), {"base_url": upstream, "api_key": API_KEY})
    levels = {"both": [1, concurrency], "sequential": [1], "concurrent": [concurrency]}[mode]
    best: dict[tuple[str, int], float] = {}
    own: dict[str, float] = {}
    try:
        async with aiohttp.ClientSession() as session:
            await wait_up(f"{upstream}/books/1")
            table = {
                name: call
                for name, call in cases(session, upstream, connector).items()
                if name in names
            }
            for call in table.values():  # warm the pools and every cache
                for _ in range(50):
                    await call()
            for _ in range(rounds):  # interleaved, so a burst of load on the machine hits all
                for name, call in table.items():
                    for c in levels:
                        us = await cpu_per_call(call, calls, c)
                        best[name, c] = min(best.get((name, c), us), us)
            own = await own_cpu(table, calls, rounds)
    finally:
        await connector.stop()
        stack.close()
    print(f"CPU µs per call (best of {rounds} rounds of {calls} calls)")
    print(f"{'case':<18}" + "".join(f"{'c=' + str(c):>10}" for c in levels) + "  connectql/bare")
    for name in table:
        row = "".join(f"{best[name, c]:>10.1f}" for c in levels)
        bare = name.replace("connectql-", "bare-")
        if bare != name and bare in table:
            row += "  " + " / ".join(f"{best[name, c] / best[bare, c]:.2f}x" for c in levels)
        print(f"{name:<18}{row}")
    if own:
        print("connectql's own CPU µs per call, the HTTP exchange answered from memory")
        for name, us in own.items():
            print(f"{name:<18}{us:>10.1f}")


async def own_cpu(table: dict[str, Call], calls: int, rounds: int) -> dict[str, float]:
    """CPU µs per call of the connectql cases in `table`, with every HTTP exchange answered
    from memory: each distinct request is sent once for real and its answer kept."""
    from connectql.connectors import http

    real = http.send
    answers: dict[tuple[str, str, tuple[tuple[str, str], ...]], http.HttpResponse] = {}

    async def replay(session: Any, request: http.HttpRequest, **kw: Any) -> http.HttpResponse:
        key = (request.method, request.url, tuple(request.params))
        if key not in answers:
            answers[key] = await real(session, request, **kw)
        return answers[key]

    http.send = replay
    try:
        own: dict[str, float] = {}
        for _ in range(rounds):
            for name, call in table.items():
                if name.startswith("connectql-"):
                    us = await cpu_per_call(call, calls, 1)
                    own[name] = min(own.get(name, us), us)
        return own
    finally:
        http.send = real


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--case", action="append", choices=CASES, help="default: all")
    parser.add_argument("--mode", choices=["both", "sequential", "concurrent"], default="both")
    args = parser.parse_args()
    asyncio.run(bench(args.calls, args.concurrency, args.rounds, args.case or CASES, args.mode))


if __name__ == "__main__":
    main()
