"""Time and memory of importing GitHub's full OpenAPI description (about 1,200 operations).

    python benchmarks/bench_openapi_import.py [PATH_TO_api.github.com.json]

Without a path, `npm pack @octokit/openapi@23.0.2` fetches it into ~/.cache/connectql-bench.
Prints parse and import seconds, peak RSS, and the report's counts.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from connectql.builder.openapi import import_openapi, load_document
from connectql.spec.loader import load_spec_text

PACKAGE = "@octokit/openapi@23.0.2"


def fetch() -> Path:
    cache = Path.home() / ".cache" / "connectql-bench"
    target = cache / "api.github.com.json"
    if not target.exists():
        cache.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(
            ["npm", "pack", PACKAGE, "--silent"],
            cwd=cache,
            capture_output=True,
            text=True,
            check=True,
        )
        with tarfile.open(cache / out.stdout.strip().splitlines()[-1]) as tar:
            member = tar.extractfile("package/generated/api.github.com.json")
            assert member is not None
            target.write_bytes(member.read())
    return target


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else fetch()
    text = path.read_text()
    started = time.perf_counter()
    document = load_document(text)
    parsed = time.perf_counter()
    result = import_openapi(document, name="github")
    imported = time.perf_counter()
    spec_yaml = result.yaml()
    load_spec_text(spec_yaml, "github.yaml")
    loaded = time.perf_counter()
    print(
        json.dumps(
            {
                "document_mib": round(len(text) / 2**20, 1),
                "parse_s": round(parsed - started, 2),
                "import_s": round(imported - parsed, 2),
                "load_generated_spec_s": round(loaded - imported, 2),
                "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "operations": result.report.operations,
                "types": result.report.types,
                "skipped": len(result.report.skipped),
                "collisions": len(result.report.collisions),
                "paginated": len(result.report.pagination),
                "spec_yaml_mib": round(len(spec_yaml) / 2**20, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
