"""Schema build time and memory for many generated connectors.

    python benchmarks/bench_schema_build.py [--connectors 100] [--types 20]

Each generated connector has `--types` object types of 8 fields (one a link), a get and a
paginated list operation per type. Printed: time to build the full schema cold, time to add
one more connector to it (what a hot add costs), and peak RSS.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import time
from typing import Any

from graphql import print_schema

from connectql.runtime import Runtime
from connectql.spec.models import ConnectorSpec


def generated_spec(index: int, n_types: int) -> ConnectorSpec:
    types: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for t in range(n_types):
        name = f"Thing{t}"
        other = f"Thing{(t + 1) % n_types}"
        types[name] = {
            "key": "id",
            "fields": {
                "id": "ID!",
                "name": "String!",
                "count": "Int",
                "ratio": "Float",
                "active": "Boolean",
                "tags": "[String!]",
                "ownerId": {"type": "ID", "from": "owner.id"},
                "next": {
                    "type": other,
                    "resolve": {"operation": f"get{other}", "args": {"id": "{parent.next_id}"}},
                },
            },
        }
        operations[f"get{name}"] = {
            "args": {"id": "ID!"},
            "request": {"path": f"/things{t}/{{args.id}}"},
            "response": {"type": name},
            "batch": {"key": "id", "mode": "fan_out"},
        }
        operations[f"list{name}"] = {
            "args": {"q": "String"},
            "request": {"path": f"/things{t}", "query": {"q": "{args.q}"}},
            "response": {"type": f"[{name}!]!"},
            "pagination": {"strategy": "page", "size_param": "per_page"},
        }
    return ConnectorSpec.model_validate(
        {
            "connector": {"name": f"gen{index}"},
            "source": {"base_url": "http://127.0.0.1:9"},
            "types": types,
            "operations": operations,
        }
    )


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connectors", type=int, default=100)
    parser.add_argument("--types", type=int, default=20)
    args = parser.parse_args()

    specs = [generated_spec(i, args.types) for i in range(args.connectors + 1)]
    gc.collect()
    rss_before = rss_mib()
    runtime = Runtime()
    started = time.perf_counter()
    runtime.set_connectors((s, {}) for s in specs[:-1])
    cold_ms = (time.perf_counter() - started) * 1000
    rss_after = rss_mib()
    started = time.perf_counter()
    runtime.add(specs[-1], {})
    hot_add_ms = (time.perf_counter() - started) * 1000
    schema = runtime.schema.graphql_schema
    print(
        json.dumps(
            {
                "connectors": args.connectors,
                "types_per_connector": args.types,
                "graphql_types": len(schema.type_map),
                "sdl_bytes": len(print_schema(schema)),
                "cold_build_ms": round(cold_ms, 1),
                "schema_compose_ms_reported": round(runtime.schema.build_ms, 1),
                "hot_add_one_connector_ms": round(hot_add_ms, 1),
                "peak_rss_mib": round(rss_mib(), 1),
                "rss_growth_for_build_mib": round(rss_after - rss_before, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
