"""Joins across connectors: schema build time at scale, and the cost of a join query.

    python benchmarks/bench_joins.py [--connectors 100] [--types 20] [--requests 200]

Printed:

- `schema_ring`, `schema_pairs`: 100 generated connectors (bench_schema_build.py's) with and
  without 100 joins, cold; then one link added to gen0, gen1 (a join target) stopped (its
  join fields kept, typed by its last known spec) and started again. In the ring every
  connector joins the next, so a change rebuilds every connector joining to the changed one,
  transitively: all of them (their join fields hold the target's type objects). In pairs,
  gen{2k} joins gen{2k+1} twice: a change rebuilds one or two connectors;
- `query`: the tracker and chat fakes (tests/fakes), served under uvicorn in this process:
  50 issues by 8 authors with and without their chat profiles: upstream calls per query and
  p50/p99 latency (the client runs in the same process: compare the two, not with others).

Numbers are for comparing within one run on the same machine; never assert them in tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the fakes live in tests/
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_schema_build import generated_spec  # noqa: E402
from connectql.graph.joins import Link  # noqa: E402
from connectql.runtime import Runtime  # noqa: E402

ISSUES = """{ tracker { issues(owner: "acme", repo: "widgets", first: 50) {
    nodes { title author { login CHAT } } } } }"""


def timed(run: Any) -> float:
    started = time.perf_counter()
    run()
    return round((time.perf_counter() - started) * 1000, 1)


def ring(connectors: int) -> list[Link]:
    """gen{i}.Thing0 joins gen{i+1}: one cycle through every connector."""
    return [
        Link(
            type=f"Gen{i}Thing0",
            field="joined",
            connector=f"gen{(i + 1) % connectors}",
            operation="getThing0",
            args={"id": "{parent.id}"},
        )
        for i in range(connectors)
    ]


def pairs(connectors: int) -> list[Link]:
    """gen{2k}.Thing0 and .Thing1 join gen{2k+1}: as many joins, no cycle."""
    return [
        Link(
            type=f"Gen{i - i % 2}Thing{i % 2}",
            field="joined",
            connector=f"gen{i - i % 2 + 1}",
            operation=f"getThing{i % 2}",
            args={"id": "{parent.id}"},
        )
        for i in range(connectors)
    ]


def schema_numbers(connectors: int, types: int, links: list[Link]) -> dict[str, Any]:
    specs = [(generated_spec(i, types), {}) for i in range(connectors)]
    plain = Runtime()
    no_joins = timed(lambda: plain.set_connectors(specs))
    joined = Runtime()
    with_joins = timed(lambda: joined.apply(joined.prepare(specs, links=links)))
    assert all(s.state == "active" for s in joined.joins.statuses)
    extra = Link(
        type="Gen0Thing2",
        field="joined",
        connector="gen1",
        operation="getThing2",
        args={"id": "{parent.id}"},
    )
    add_link = timed(lambda: joined.apply(joined.prepare(specs, links=[*links, extra])))
    without_target = [s for s in specs if s[0].name != "gen1"]
    stop_target = timed(lambda: joined.apply(joined.prepare(without_target)))
    assert joined.joins.statuses[0].state == "unavailable"
    start_target = timed(lambda: joined.apply(joined.prepare(specs)))
    return {
        "connectors": connectors,
        "types_per_connector": types,
        "joins": len(links),
        "cold_build_without_joins_ms": no_joins,
        "cold_build_with_joins_ms": with_joins,
        "add_one_link_ms": add_link,
        "stop_one_join_target_ms": stop_target,
        "start_it_again_ms": start_target,
    }


async def query_numbers(requests: int) -> dict[str, Any]:
    from connectql.spec.loader import load_spec
    from connectql.testing import FakeUpstream
    from tests.fakes.chat import CHAT_TOKEN, ChatState, create_chat_app
    from tests.fakes.tracker import TRACKER_TOKEN, TrackerData, create_tracker_app
    from tests.support import serving

    data = ROOT / "tests" / "fakes" / "data"
    link = Link(
        type="TrackerUser",
        field="chat",
        connector="chat",
        operation="profileByEmail",
        args={"email": "{parent.email}"},
    )
    out: dict[str, Any] = {}
    async with (
        FakeUpstream(create_tracker_app(TrackerData())) as tracker,
        FakeUpstream(create_chat_app(ChatState.seeded())) as chat,
    ):
        runtime = Runtime()
        specs = [
            (load_spec(data / "tracker.yaml"), {"base_url": tracker.url, "token": TRACKER_TOKEN}),
            (load_spec(data / "chat.yaml"), {"base_url": chat.url, "token": CHAT_TOKEN}),
        ]
        runtime.apply(runtime.prepare(specs, links=[link]))
        async with serving(runtime) as url, aiohttp.ClientSession() as http:
            for name, selection in (
                ("authors", ""),
                ("authors_and_chat", "chat { realName title }"),
            ):
                query = ISSUES.replace("CHAT", selection)
                latencies: list[float] = []
                tracker.reset()
                chat.reset()
                for _ in range(requests):
                    started = time.perf_counter()
                    async with http.post(f"{url}/graphql", json={"query": query}) as response:
                        body = await response.json()
                    latencies.append((time.perf_counter() - started) * 1000)
                    assert "errors" not in body, body
                cuts = statistics.quantiles(latencies, n=100)
                out[name] = {
                    "requests": requests,
                    "tracker_calls_per_query": tracker.count() / requests,
                    "chat_calls_per_query": chat.count() / requests,
                    "p50_ms": round(cuts[49], 2),
                    "p99_ms": round(cuts[98], 2),
                }
        await runtime.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connectors", type=int, default=100)
    parser.add_argument("--types", type=int, default=20)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # a stopped target's joins are logged, as they should
    result = {
        "schema_ring": schema_numbers(args.connectors, args.types, ring(args.connectors)),
        "schema_pairs": schema_numbers(args.connectors, args.types, pairs(args.connectors)),
        "query": asyncio.run(query_numbers(args.requests)),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
