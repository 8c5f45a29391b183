"""What calling as the caller costs: a connector forwarding `x-token` against one with a fixed
token, on the same local upstream, in one process.

    python benchmarks/bench_forwarded.py [--calls 2000]

Printed: µs per `Connector.execute` for the fixed token, one forwarding caller, and a new
caller on every call (a bearer strategy built per caller); and µs per `Forwarding.select`
for a new request (picking the headers and the keyed digest of the identity; a request's
later calls reuse it). Numbers are for comparing within
one run on one machine; never assert them in tests.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from connectql.connectors.callers import Caller
from connectql.connectors.connector import Connector
from connectql.spec.loader import load_spec_text
from connectql.testing import FakeUpstream

SPEC = """
spec_version: 1
connector: {name: bench}
config: {base_url: {required: true}}
source:
  base_url: "{config.base_url}"
  forward_headers: [x-token]
  auth: {type: bearer, token: "TOKEN"}
types: {User: {fields: {login: String!}}}
operations:
  viewer: {request: {path: /user}, response: {type: User}}
"""


async def per_call(calls: int, call: Callable[[int], Awaitable[object]]) -> float:
    for i in range(50):  # warm the pool
        await call(i)
    started = time.perf_counter()
    for i in range(calls):
        await call(i)
    return (time.perf_counter() - started) / calls * 1e6


async def main(calls: int) -> None:
    async def user(request: web.Request) -> web.Response:
        return web.json_response({"login": request.headers["Authorization"][-6:]})

    app = web.Application()
    app.router.add_get("/user", user)
    async with FakeUpstream(app) as upstream:
        config = {"base_url": upstream.url}
        fixed = Connector(load_spec_text(SPEC.replace("TOKEN", "fixed-token"), "b.yaml"), config)
        spec = load_spec_text(SPEC.replace("TOKEN", "{request.headers.x-token}"), "b.yaml")
        forwarding = Connector(spec, config)
        one = Caller({"x-token": "caller-token"})
        callers = [Caller({"x-token": f"caller-{i:06d}"}) for i in range(calls + 50)]
        try:
            rows = {
                "fixed token": await per_call(calls, lambda i: fixed.execute("viewer", {})),
                "forwarded, one caller": await per_call(
                    calls, lambda i: forwarding.execute("viewer", {}, caller=one)
                ),
                "forwarded, a new caller each call": await per_call(
                    calls, lambda i: forwarding.execute("viewer", {}, caller=callers[i])
                ),
            }
        finally:
            await fixed.stop()
            await forwarding.stop()
        select = forwarding.requester.forwarding.select
        started = time.perf_counter()
        for i in range(calls):
            select("viewer", Caller({"x-token": f"fresh-{i:06d}"}))
        rows["Forwarding.select alone"] = (time.perf_counter() - started) / calls * 1e6
    for name, micros in rows.items():
        print(f"{name:36} {micros:8.1f} µs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    asyncio.run(main(parser.parse_args().calls))
