"""CPU per request of connectql's HTTP path for /graphql, measured in-process.

    python benchmarks/bench_graphql_http.py [--requests 3000] [--concurrency 16] [--profile CASE]

The app (`create_app`, all middlewares) is called as an ASGI app by this process, without
sockets or uvicorn in front, so the CPU time of this process is the app's own: the
middlewares, /graphql's request handling and execution, and the upstream client. The demo
bookstore upstream runs in a child process, so its work is not counted. Printed per case:
CPU µs per request (`time.process_time`) and requests/s of this process, the best of
`--rounds` runs (the machine is shared: the least disturbed run is the closest); with
`--profile`, the top functions of one case by cumulative time (cProfile).

Numbers are for comparing within one run on the same machine; never assert them in tests.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from local_servers import bookstore, wait_up

API_KEY = "bench-key-0123456789"
TRIVIAL = "{ schemaVersion }"
ONE_CALL = '{ bookstore { book(id: "7") { id title genre year } } }'
NESTED_50 = "{ bookstore { books(first: 50) { nodes { id title author { id name } } } } }"
Call = Callable[[], Awaitable[bytes]]


def asgi_call(app: Any, method: str, query: str) -> Call:
    """One request to /graphql as uvicorn would hand it over; returns the body."""
    if method == "POST":
        body, query_string = json.dumps({"query": query}).encode(), b""
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    else:
        body, query_string = b"", urlencode({"query": query}).encode()
        headers = [(b"accept", b"application/json")]
    headers += [(b"host", b"127.0.0.1"), (b"user-agent", b"bench")]

    async def call() -> bytes:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": "/graphql",
            "raw_path": b"/graphql",
            "root_path": "",
            "query_string": query_string,
            "headers": list(headers),
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        sent = False
        chunks: list[bytes] = []
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await app(scope, receive, send)
        answer = b"".join(chunks)
        if status != 200 or b'"errors"' in answer:
            raise RuntimeError(f"{status}: {answer[:300]!r}")
        return answer

    return call


async def run(call: Call, total: int, concurrency: int) -> tuple[float, float]:
    """(CPU µs per request, requests/s) of `total` calls, `concurrency` at a time."""
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu / total * 1e6, total / wall


async def lifespan(app: Any) -> Callable[[], Awaitable[None]]:
    """Start the app's lifespan; return what ends it."""
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    started = asyncio.get_running_loop().create_future()
    await events.put({"type": "lifespan.startup"})

    async def send(message: dict[str, Any]) -> None:
        if message["type"].startswith("lifespan.startup") and not started.done():
            started.set_result(message["type"])

    task = asyncio.create_task(app({"type": "lifespan", "state": {}}, events.get, send))
    if await started != "lifespan.startup.complete":
        raise RuntimeError("the app did not start")

    async def stop() -> None:
        await events.put({"type": "lifespan.shutdown"})
        await task

    return stop


async def bench(
    requests: int, concurrency: int, rounds: int, profile: str | None
) -> dict[str, Any]:
    from connectql.demo.runner import BOOKSTORE_SPEC
    from connectql.runtime import Runtime
    from connectql.server.app import create_app
    from connectql.spec.loader import load_spec

    results: dict[str, Any] = {}
    with bookstore(API_KEY) as base:
        await wait_up(f"{base}/books/1", headers={"X-Api-Key": API_KEY})
        runtime = Runtime()
        runtime.add(load_spec(BOOKSTORE_SPEC), {"base_url": base, "api_key": API_KEY})
        app = create_app(runtime)
        stop = await lifespan(app)
        cases = {
            "trivial/POST": asgi_call(app, "POST", TRIVIAL),
            "trivial/GET": asgi_call(app, "GET", TRIVIAL),
            "one-call/POST": asgi_call(app, "POST", ONE_CALL),
            "one-call/GET": asgi_call(app, "GET", ONE_CALL),
            "nested-50/POST": asgi_call(app, "POST", NESTED_50),
        }
        try:
            for name, call in cases.items():
                await run(call, max(50, requests // 10), concurrency)  # warm-up
                runs = [await run(call, requests, concurrency) for _ in range(rounds)]
                cpu_us, rps = min(r[0] for r in runs), max(r[1] for r in runs)
                results[name] = {"cpu_us_per_request": round(cpu_us, 1), "req_per_s": round(rps)}
            if profile is not None:
                profiler = cProfile.Profile()
                profiler.enable()
                await run(cases[profile], requests, concurrency)
                profiler.disable()
                pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(45)
        finally:
            await stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each case (best shown)")
    parser.add_argument("--profile", help="profile one case (e.g. one-call/POST) after the runs")
    args = parser.parse_args()
    print(
        json.dumps(
            asyncio.run(bench(args.requests, args.concurrency, args.rounds, args.profile)), indent=2
        )
    )


if __name__ == "__main__":
    main()
