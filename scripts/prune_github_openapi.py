"""Prune GitHub's OpenAPI description to the operations the GitHub fake serves.

Source: the npm package `@octokit/openapi` (GitHub's official description from
https://github.com/github/rest-api-description, plus Octokit extensions); the version used
and its licence are in src/connectql/testing/fakes/data/github-openapi-LICENSE.md:

    cd /tmp && npm pack @octokit/openapi@23.0.2 && tar xzf octokit-openapi-23.0.2.tgz
    python scripts/prune_github_openapi.py \
        /tmp/package/generated/api.github.com.json \
        src/connectql/testing/fakes/data/github-openapi-pruned.json

Keeps the listed operations and every component they reference, transitively. Drops
`examples`, `x-*` extensions, the top-level tags and webhooks: noise for request validation.
Schemas are otherwise untouched, so the pruned file is still a valid OpenAPI 3.0 description.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OPERATIONS: dict[str, tuple[str, ...]] = {
    "/repos/{owner}/{repo}": ("get",),
    "/users/{username}/repos": ("get",),
    "/orgs/{org}/repos": ("get",),
    "/repos/{owner}/{repo}/issues": ("get", "post"),
    "/repos/{owner}/{repo}/issues/{issue_number}": ("get",),
    "/repos/{owner}/{repo}/issues/{issue_number}/comments": ("post",),
    "/repos/{owner}/{repo}/pulls": ("get",),
    "/repos/{owner}/{repo}/pulls/{pull_number}": ("get",),
    "/repos/{owner}/{repo}/commits": ("get",),
    "/repos/{owner}/{repo}/commits/{ref}": ("get",),
    "/users/{username}": ("get",),
    "/search/repositories": ("get",),
    "/search/issues": ("get",),
    "/app/installations/{installation_id}/access_tokens": ("post",),
}

PATH_ITEM_KEYS = ("summary", "description", "parameters", "servers")


def strip_noise(node: Any, *, in_properties: bool = False) -> Any:
    """Drop `examples` and `x-*` keys everywhere except where keys are property names."""
    if isinstance(node, list):
        return [strip_noise(item) for item in node]
    if not isinstance(node, dict):
        return node
    kept: dict[str, Any] = {}
    for key, value in node.items():
        if not in_properties and (key == "examples" or key.startswith("x-")):
            continue
        kept[key] = strip_noise(value, in_properties=key == "properties" and not in_properties)
    return kept


def references(node: Any) -> set[str]:
    """Every local `#/components/...` pointer in `node`, discriminator mappings included."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= references(item)
    elif isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref)
        mapping = node.get("mapping")
        if isinstance(mapping, dict) and "propertyName" in node:
            found |= {target for target in mapping.values() if isinstance(target, str)}
        for key, value in node.items():
            if key != "$ref":
                found |= references(value)
    return found


def prune(document: dict[str, Any]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for path, methods in OPERATIONS.items():
        item = document["paths"][path]
        kept = {key: item[key] for key in PATH_ITEM_KEYS if key in item}
        kept.update({method: item[method] for method in methods})
        paths[path] = strip_noise(kept)

    components: dict[str, dict[str, Any]] = {}
    pending = sorted(references(paths))
    seen: set[str] = set()
    while pending:
        pointer = pending.pop()
        if pointer in seen:
            continue
        seen.add(pointer)
        parts = pointer.removeprefix("#/").split("/")
        if len(parts) != 3 or parts[0] != "components":
            raise ValueError(f"expected #/components/<section>/<name>, got {pointer}")
        _, section, name = parts
        target = strip_noise(document["components"][section][name])
        components.setdefault(section, {})[name] = target
        pending.extend(sorted(references(target) - seen))

    return {
        "openapi": document["openapi"],
        "info": document["info"],
        "servers": document["servers"],
        "externalDocs": document.get("externalDocs", {}),
        "paths": paths,
        "components": {
            section: dict(sorted(entries.items()))
            for section, entries in sorted(components.items())
        },
    }


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(f"usage: {argv[0]} api.github.com.json OUTPUT.json", file=sys.stderr)
        return 2
    document = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    pruned = prune(document)
    Path(argv[2]).write_text(json.dumps(pruned, indent=1, sort_keys=False) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
