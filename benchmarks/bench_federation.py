"""connectql as a federation subgraph: composition by a real Apollo Gateway, `_entities`.

    python -m tests.federation.gateway            # once: the pinned gateway (node 20+)
    python benchmarks/bench_federation.py [--repeat 50] [--compose-repeat 10]

Printed (JSON):
- `composition`: two `connectql serve` processes (tracker and chat connectors, federation on)
  and the reviews subgraph, introspected and composed by @apollo/composition 2.14.4 (the
  gateway's own, tests/federation/gateway.py `measure_composition`): first composition, the
  median of the rest, introspection, errors and hints;
- `entities_100`: `_entities` with 100 distinct TrackerUser representations sent straight to
  the tracker process: upstream calls per request and latency (p50/p90), beside the tracker
  fake's multi-get of the same 100 logins called directly; and the same with 100
  representations of 10 people, as a gateway repeats references;
- `schema_build`: building 100 generated connectors of 20 keyed types with federation off and
  on, and printing the subgraph SDL once.

Numbers are for comparing within one run on the same machine; never assert them in tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_schema_build import generated_spec
from connectql.runtime import Runtime
from connectql.testing import FakeUpstream
from tests.fakes.chat import CHAT_TOKEN, ChatState, create_chat_app
from tests.fakes.tracker import TRACKER_TOKEN, TrackerData, create_tracker_app
from tests.federation import gateway
from tests.federation.connectql import KEYS, serve_connector
from tests.federation.reviews import serving_reviews

ENTITIES = (
    "query($r: [_Any!]!) { _entities(representations: $r) "
    "{ ... on TrackerUser { login name email } } }"
)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _timings(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(values), 2),
        "p90_ms": round(_percentile(values, 0.9), 2),
    }


async def _entities(
    http: aiohttp.ClientSession,
    url: str,
    upstream: FakeUpstream,
    representations: list[dict[str, Any]],
    repeat: int,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {KEYS['tracker']}"}
    body = {"query": ENTITIES, "variables": {"r": representations}}
    times: list[float] = []
    calls: list[int] = []
    for _ in range(repeat + 3):  # the first three warm up
        upstream.reset()
        started = time.perf_counter()
        async with http.post(f"{url}/graphql", json=body, headers=headers) as response:
            answer = await response.json()
        elapsed = (time.perf_counter() - started) * 1000
        assert "errors" not in answer, answer
        assert len(answer["data"]["_entities"]) == len(representations)
        times.append(elapsed)
        calls.append(len(upstream.requests))
    times, calls = times[3:], calls[3:]
    return {
        "representations": len(representations),
        "distinct": len({r["login"] for r in representations}),
        "upstream_calls_per_request": sorted(set(calls)),
        **_timings(times),
    }


async def _multi_get(
    http: aiohttp.ClientSession, upstream: FakeUpstream, logins: list[str], repeat: int
) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {TRACKER_TOKEN}"}
    times: list[float] = []
    for _ in range(repeat + 3):
        started = time.perf_counter()
        async with http.get(
            f"{upstream.url}/users", params={"logins": ",".join(logins)}, headers=headers
        ) as response:
            await response.json()
        times.append((time.perf_counter() - started) * 1000)
    return _timings(times[3:])


async def measure(folder: Path, repeat: int, compose_repeat: int) -> dict[str, Any]:
    data = TrackerData(authors=100)
    people = data.people()
    async with (
        FakeUpstream(create_tracker_app(data)) as tracker,
        FakeUpstream(create_chat_app(ChatState.seeded(data))) as chat,
        serving_reviews() as reviews,
    ):
        started = []
        try:
            tracker_process = await serve_connector(
                None, folder / "tracker", "tracker", tracker, TRACKER_TOKEN
            )
            started.append(tracker_process)
            chat_process = await serve_connector(None, folder / "chat", "chat", chat, CHAT_TOKEN)
            started.append(chat_process)
            subgraphs = {
                "reviews": gateway.Subgraph(reviews.url),
                **{
                    name: gateway.Subgraph(
                        f"{process.url}/graphql",
                        headers={"Authorization": f"Bearer {KEYS[name]}"},
                    )
                    for name, process in (("tracker", tracker_process), ("chat", chat_process))
                },
            }
            composition = await gateway.measure_composition(subgraphs, repeat=compose_repeat)
            first, *rest = composition.compose_ms
            async with aiohttp.ClientSession() as http:
                distinct = [{"__typename": "TrackerUser", "login": p.login} for p in people]
                repeated = [
                    {"__typename": "TrackerUser", "login": people[i % 10].login} for i in range(100)
                ]
                entities = [
                    await _entities(http, tracker_process.url, tracker, distinct, repeat),
                    await _entities(http, tracker_process.url, tracker, repeated, repeat),
                ]
                direct = await _multi_get(http, tracker, [p.login for p in people], repeat)
        finally:
            for process in started:
                await process.stop()
    return {
        "composition": {
            "subgraphs": list(subgraphs),
            "first_ms": round(first, 1),
            "median_ms_after": round(statistics.median(rest), 1) if rest else None,
            "introspection_ms": round(composition.fetch_ms, 1),
            "node_process_s": round(composition.wall_s, 2),
            "errors": composition.errors,
            "hints": composition.hints,
        },
        "entities_100": entities,
        "tracker_multi_get_100_direct": direct,
    }


def schema_build(connectors: int = 100, types: int = 20) -> dict[str, Any]:
    specs = [(generated_spec(i, types), {}) for i in range(connectors)]
    result: dict[str, Any] = {"connectors": connectors, "types_per_connector": types}
    for federation in (False, True):
        runtime = Runtime(federation=federation)
        started = time.perf_counter()
        runtime.set_connectors(specs)
        result[f"build_ms_federation_{'on' if federation else 'off'}"] = round(
            (time.perf_counter() - started) * 1000, 1
        )
    query = runtime.schema.graphql_schema.query_type
    assert query is not None
    started = time.perf_counter()
    sdl = query.fields["_service"].resolve(None, None)["sdl"]  # type: ignore[misc]
    result["sdl_print_ms"] = round((time.perf_counter() - started) * 1000, 1)
    result["sdl_bytes"] = len(sdl)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=50, help="_entities requests timed")
    parser.add_argument("--compose-repeat", type=int, default=10)
    args = parser.parse_args()
    reason = gateway.unavailable()
    if reason is not None:
        sys.exit(f"the gateway cannot run here: {reason}")
    with tempfile.TemporaryDirectory() as scratch:
        result = asyncio.run(measure(Path(scratch), args.repeat, args.compose_repeat))
    result["schema_build"] = schema_build()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
