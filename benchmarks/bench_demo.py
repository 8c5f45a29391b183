"""Throughput and latency of connectql on the demo connector, against a hand-written baseline.

    python benchmarks/bench_demo.py [--requests 2000] [--concurrency 16]

Three processes besides this one: the bookstore upstream (counting calls), connectql under
uvicorn, and the baseline (a plain aiohttp handler doing the same work with one batch call).
This process is the load generator. Printed: req/s, p50/p99 and upstream calls per query for

- `one-call`: `book(id:)`, one upstream call; compared with calling the upstream directly;
- `nested-50`: 50 books with their authors: 2 upstream calls (a page, then one batch).

Numbers are for comparing within one run on the same machine; never assert them in tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

API_KEY = "bench-key-0123456789"
ONE_CALL = '{ bookstore { book(id: "7") { id title genre year } } }'
NESTED_50 = "{ bookstore { books(first: 50) { nodes { id title author { id name } } } } }"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the three servers (each runs in its own process) ----------------------------------


def run_upstream(port: int) -> None:
    from connectql.demo.upstream import create_bookstore_app

    calls = {"n": 0}

    @web.middleware
    async def count(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path != "/_calls":
            calls["n"] += 1
        return await handler(request)  # type: ignore[no-any-return]

    app = create_bookstore_app(API_KEY)
    app.middlewares.insert(0, count)

    async def read_calls(request: web.Request) -> web.Response:
        return web.json_response(calls)

    app.router.add_get("/_calls", read_calls)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def run_connectql(port: int, upstream: str) -> None:
    import uvicorn

    from connectql.demo.runner import BOOKSTORE_SPEC
    from connectql.runtime import Runtime
    from connectql.server.app import create_app
    from connectql.spec.loader import load_spec

    runtime = Runtime()
    runtime.add(load_spec(BOOKSTORE_SPEC), {"base_url": upstream, "api_key": API_KEY})
    uvicorn.run(create_app(runtime), host="127.0.0.1", port=port, log_level="warning")


def run_baseline(port: int, upstream: str) -> None:
    """What a careful engineer would write by hand for the same two queries."""
    import orjson

    session: aiohttp.ClientSession | None = None
    headers = {"X-Api-Key": API_KEY}

    async def graphql(request: web.Request) -> web.Response:
        nonlocal session
        if session is None:
            session = aiohttp.ClientSession()
        query = (await request.json())["query"]
        if "books(first: 50)" in query:
            async with session.get(f"{upstream}/books?per_page=50&page=1", headers=headers) as r:
                books = await r.json()
            ids = ",".join(sorted({b["author_id"] for b in books}))
            async with session.get(f"{upstream}/authors?ids={ids}", headers=headers) as r:
                authors = {a["id"]: a for a in (await r.json())["authors"]}
            nodes = [
                {
                    "id": b["id"],
                    "title": b["title"],
                    "author": {"id": b["author_id"], "name": authors[b["author_id"]]["name"]},
                }
                for b in books
            ]
            data: Any = {"bookstore": {"books": {"nodes": nodes}}}
        else:
            async with session.get(f"{upstream}/books/7", headers=headers) as r:
                b = await r.json()
            data = {
                "bookstore": {
                    "book": {
                        "id": b["id"],
                        "title": b["title"],
                        "genre": b["genre"].upper().replace("-", "_"),
                        "year": b["year"],
                    }
                }
            }
        return web.Response(body=orjson.dumps({"data": data}), content_type="application/json")

    async def close(_: web.Application) -> None:
        if session is not None:
            await session.close()

    app = web.Application()
    app.router.add_post("/graphql", graphql)
    app.on_cleanup.append(close)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


# --- the load generator -----------------------------------------------------------------


async def wait_up(http: aiohttp.ClientSession, url: str) -> None:
    for _ in range(400):
        try:
            async with http.get(url) as resp:
                if resp.status < 500:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


async def load(
    call: Callable[[], Awaitable[None]], total: int, concurrency: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            await call()
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - started), latencies


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


async def bench(requests: int, concurrency: int) -> dict[str, Any]:
    ports = {name: free_port() for name in ("upstream", "connectql", "baseline")}
    upstream = f"http://127.0.0.1:{ports['upstream']}"
    me = os.path.abspath(__file__)
    procs = [
        subprocess.Popen([sys.executable, me, "--serve", "upstream", str(ports["upstream"])]),
        subprocess.Popen(
            [sys.executable, me, "--serve", "connectql", str(ports["connectql"]), upstream]
        ),
        subprocess.Popen(
            [sys.executable, me, "--serve", "baseline", str(ports["baseline"]), upstream]
        ),
    ]
    results: dict[str, Any] = {}
    try:
        conn = aiohttp.TCPConnector(limit=concurrency * 2)
        async with aiohttp.ClientSession(connector=conn) as http:
            await wait_up(http, f"{upstream}/_calls")
            await wait_up(http, f"http://127.0.0.1:{ports['connectql']}/healthz")
            await wait_up(http, f"http://127.0.0.1:{ports['baseline']}/graphql")

            async def upstream_calls() -> int:
                async with http.get(f"{upstream}/_calls", headers={"X-Api-Key": API_KEY}) as resp:
                    return int((await resp.json())["n"])

            def graphql(port: int, query: str) -> Callable[[], Awaitable[None]]:
                async def call() -> None:
                    async with http.post(
                        f"http://127.0.0.1:{port}/graphql", json={"query": query}
                    ) as resp:
                        body = await resp.json()
                        assert "errors" not in body, body

                return call

            async def direct() -> None:
                async with http.get(f"{upstream}/books/7", headers={"X-Api-Key": API_KEY}) as r:
                    await r.read()

            cases: list[tuple[str, Callable[[], Awaitable[None]]]] = [
                ("upstream-direct", direct),
                ("one-call/connectql", graphql(ports["connectql"], ONE_CALL)),
                ("one-call/baseline", graphql(ports["baseline"], ONE_CALL)),
                ("nested-50/connectql", graphql(ports["connectql"], NESTED_50)),
                ("nested-50/baseline", graphql(ports["baseline"], NESTED_50)),
            ]
            for name, call in cases:
                await load(call, max(50, requests // 10), concurrency)  # warm-up
                before = await upstream_calls()
                rps, latencies = await load(call, requests, concurrency)
                calls = (await upstream_calls() - before) / requests
                results[name] = {
                    "req_per_s": round(rps, 1),
                    "p50_ms": round(pct(latencies, 50), 3),
                    "p99_ms": round(pct(latencies, 99), 3),
                    "upstream_calls_per_query": round(calls, 2),
                }
            # Serial single-request latency: overhead without queueing.
            for name, call in cases[:2]:
                _, latencies = await load(call, requests // 4, 1)
                results[f"{name}/serial"] = {"p50_ms": round(pct(latencies, 50), 3)}
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    nested = (
        results["nested-50/connectql"]["req_per_s"] / results["nested-50/baseline"]["req_per_s"]
    )
    results["nested_throughput_ratio_vs_baseline"] = round(nested, 3)
    results["one_call_p50_overhead_ms_serial"] = round(
        results["one-call/connectql/serial"]["p50_ms"]
        - results["upstream-direct/serial"]["p50_ms"],
        3,
    )
    return results


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--serve":
        role, port = sys.argv[2], int(sys.argv[3])
        if role == "upstream":
            run_upstream(port)
        elif role == "connectql":
            run_connectql(port, sys.argv[4])
        else:
            run_baseline(port, sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(bench(args.requests, args.concurrency)), indent=2))


if __name__ == "__main__":
    main()
