"""CPU time of executing the demo benchmark's two queries, compiled plan against graphql-core.

    python benchmarks/bench_execution.py [--runs 2000]

In this process, one after the other on the same schema: each query executed `--runs`
times with `CONNECTQL_EXECUTOR`'s `reference` (graphql-core) and `compiled` modes, timed
with `time.process_time`. Two ways:

- `warm`: every execution shares one request's loaders, which already hold the upstream's
  answers: what is timed is the execution alone (graphql-core's `execute` with the schema's
  executor class, as the lean HTTP path calls it), no upstream, no HTTP;
- `cold`: a fresh request context each time, through strawberry's `Schema.execute` (parse and
  validation come from the query cache), the upstream answering from a child process; this
  process's CPU includes the aiohttp client calls.

Numbers are for comparing within one run on the same machine; never assert them in tests.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from typing import Any

from graphql import execute, parse

from local_servers import bookstore, wait_up

API_KEY = "bench-key-0123456789"
QUERIES = {
    "one-call": '{ bookstore { book(id: "7") { id title genre year } } }',
    "nested-50": "{ bookstore { books(first: 50) { nodes { id title author { id name } } } } }",
}


MODES = ("reference", "compiled")
ROUNDS = 5


async def measure(upstream: str, runs: int) -> list[tuple[str, str, str, float]]:
    from connectql.demo.runner import BOOKSTORE_SPEC
    from connectql.graph.execution import plans_of
    from connectql.resolvers.fields import RequestContext
    from connectql.runtime import Runtime
    from connectql.spec.loader import load_spec

    runtime = Runtime()
    runtime.add(load_spec(BOOKSTORE_SPEC), {"base_url": upstream, "api_key": API_KEY})
    await runtime.start()
    built = runtime.schema
    schema = built.graphql_schema
    plans = plans_of(schema)
    assert plans is not None
    executor_class = built.schema.execution_context_class
    totals: dict[tuple[str, str, str], float] = {}
    counts: dict[tuple[str, str, str], int] = {}

    def add(key: tuple[str, str, str], seconds: float, n: int) -> None:
        totals[key] = totals.get(key, 0.0) + seconds
        counts[key] = counts.get(key, 0) + n

    try:
        for name, query in QUERIES.items():
            document = parse(query)
            warm = RequestContext(connectors=runtime.connectors)
            answers = set()
            for mode in MODES:  # fill the loaders, warm the plan cache
                plans.mode = mode
                for _ in range(20):
                    result = await execute(  # type: ignore[misc]
                        schema, document, context_value=warm, executor_class=executor_class
                    )
                    assert not result.errors, result.errors
                    answers.add(repr(result.data))
            # rounds alternate the modes, so a busy moment of the machine hits both
            for _ in range(ROUNDS):
                for mode in MODES:
                    plans.mode = mode
                    n = max(runs // ROUNDS, 1)
                    gc.collect()
                    started = time.process_time()
                    for _ in range(n):
                        await execute(  # type: ignore[misc]
                            schema, document, context_value=warm, executor_class=executor_class
                        )
                    add((name, "warm", mode), time.process_time() - started, n)
                    n = max(runs // ROUNDS // 4, 1)
                    gc.collect()
                    started = time.process_time()
                    for _ in range(n):
                        context = RequestContext(connectors=runtime.connectors)
                        result = await built.schema.execute(query, context_value=context)
                        assert not result.errors, result.errors
                        answers.add(repr(result.data))
                    add((name, "cold", mode), time.process_time() - started, n)
            assert len(answers) == 1, "the executors disagree"
    finally:
        await runtime.stop()
    return [(*key, totals[key] / counts[key]) for key in totals]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    with bookstore(API_KEY) as upstream:
        asyncio.run(wait_up(f"{upstream}/books/1"))
        rows = asyncio.run(measure(upstream, args.runs))
    by_key: dict[tuple[str, str], dict[str, Any]] = {}
    for name, how, mode, seconds in rows:
        by_key.setdefault((name, how), {})[mode] = seconds
    print(f"{'query':<10} {'how':<5} {'graphql-core µs':>16} {'compiled µs':>12} {'ratio':>6}")
    for (name, how), times in by_key.items():
        reference, compiled = times["reference"] * 1e6, times["compiled"] * 1e6
        ratio = reference / compiled
        print(f"{name:<10} {how:<5} {reference:>16.1f} {compiled:>12.1f} {ratio:>5.2f}x")


if __name__ == "__main__":
    main()
