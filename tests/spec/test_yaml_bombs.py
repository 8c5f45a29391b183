"""Texts that cost far more to read than their size (alias bombs, recursive anchors, deep
nesting, huge values) are refused at their line and column, at once, wherever a user's YAML
or JSON comes in: the spec loader, `connectql validate`, connectql.yaml, the OpenAPI importer,
and the server's mutations and REST routes, which answer 4xx and keep serving others."""

from __future__ import annotations

import asyncio
import json
import os
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connectql.builder.openapi import load_document
from connectql.config import load_config
from connectql.errors import ConfigError, SpecErrors
from connectql.spec.loader import load_spec, load_spec_text
from tests.builder.test_openapi import full_github_description
from tests.processes import run_cli
from tests.support import ADMIN_KEY, bookstore_spec_text, control_server, execute

HANGS = 5.0
"""Seconds no refusal comes near: before the limits, 392 bytes of aliases took 18 s and
1.5 GB, and 500 bytes ran out of memory (2.4 GB, 31 s)."""


def laughs(levels: int, width: int = 9) -> str:
    """The "billion laughs": each level is a list of `width` aliases of the level below."""
    lines = ['a0: &a0 "lol"']
    for level in range(1, levels + 1):
        refs = ", ".join([f"*a{level - 1}"] * width)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


def merges(levels: int) -> str:
    """Each level merges (`<<`) both mappings of the level below: 2^levels keys."""
    lines = ["m0: &m0 {k0: 0}", "n0: &n0 {j0: 0}"]
    for level in range(1, levels + 1):
        refs = f"[*m{level - 1}, *n{level - 1}]"
        lines.append(f"m{level}: &m{level} {{<<: {refs}, k{level}: 0}}")
        lines.append(f"n{level}: &n{level} {{<<: {refs}, j{level}: 0}}")
    return "\n".join(lines) + "\n"


DEEP = 10_000
ALIASES = "aliases stand for more than 100,000 values in all"
RECURSIVE = "the alias *a is inside its own anchor"
NESTED = "nested more than 100 levels deep"

BOMBS = [
    pytest.param(laughs(6), (7, 10), ALIASES, id="billion-laughs-9^6"),
    pytest.param(laughs(9), (7, 10), ALIASES, id="billion-laughs-9^9"),
    pytest.param(laughs(30, width=2), (16, 18), ALIASES, id="laughs-2^30"),
    pytest.param(laughs(3, width=1000), (3, 500), ALIASES, id="laughs-wide-1000^3"),
    pytest.param(merges(30), (26, 17), ALIASES, id="merge-key-bomb-2^30"),
    pytest.param("a: &a [1, *a]\n", (1, 11), RECURSIVE, id="recursive-list"),
    pytest.param("a: &a\n  b:\n    c: *a\n", (3, 8), RECURSIVE, id="recursive-mapping"),
    pytest.param("a: &a {<<: *a}\n", (1, 12), RECURSIVE, id="recursive-merge"),
    pytest.param("a: " + "[" * DEEP + "]" * DEEP + "\n", (1, 1003), NESTED, id="deep-flow"),
    pytest.param("a:\n  " + "- " * DEEP + "x\n", (2, 201), NESTED, id="deep-block-lists"),
    pytest.param(
        "".join(" " * i + f"k{i}:\n" for i in range(150)) + " " * 150 + "leaf: 1\n",
        (101, 101),
        NESTED,
        id="deep-block-mappings",
    ),
    pytest.param('{"a": ' + "[" * DEEP + "]" * DEEP + "}", (1, 1006), NESTED, id="deep-json"),
    pytest.param('{"a": ' * DEEP + "1" + "}" * DEEP, (1, 601), NESTED, id="deep-json-objects"),
    pytest.param(
        "description: '" + "x" * (2 << 20) + "'\n",
        (1, 14),
        "a value longer than 1 MiB",
        id="huge-scalar",
    ),
    pytest.param(
        "a: 1\n# " + "x" * (11 << 20) + "\n",
        (None, None),
        "the text is larger than 10 MiB",
        id="huge-text",
    ),
]


def refused(read: Callable[[], Any]) -> tuple[SpecErrors, float, int]:
    """The SpecErrors `read` raises, the seconds it took and the bytes it allocated at most."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(SpecErrors) as caught:
            read()
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return caught.value, elapsed, peak


def assert_located(error: SpecErrors, where: tuple[int | None, int | None], words: str) -> None:
    assert len(error.errors) == 1, error
    line, column = where
    assert error.location.line == line, error
    if column is not None:
        assert error.location.column == column, error
    assert words in error.message, error


@pytest.mark.parametrize(("text", "where", "words"), BOMBS)
def test_the_loader_refuses_at_once(
    text: str, where: tuple[int | None, int | None], words: str
) -> None:
    error, elapsed, peak = refused(lambda: load_spec_text(text, "bomb.yaml"))
    assert_located(error, where, words)
    assert str(error).startswith("bomb.yaml:" if where[0] else "bomb.yaml: ")
    assert elapsed < HANGS
    assert peak < 4 * len(text) + (16 << 20)  # nothing is built: the text's copies at most


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        p
        for p in BOMBS
        if p.id not in ("huge-scalar", "huge-text", "deep-json", "deep-json-objects")
    ],
)
def test_the_openapi_importer_refuses_yaml_bombs(
    text: str, where: tuple[int | None, int | None], words: str
) -> None:
    document = "openapi: 3.0.0\n" + text  # one line more
    line = where[0] + 1 if where[0] is not None else None
    error, elapsed, _ = refused(lambda: load_document(document))
    assert_located(error, (line, where[1]), words)
    assert elapsed < HANGS


@pytest.mark.parametrize(
    ("text", "where"),
    [
        pytest.param('{"openapi": "3.0.0", "a": ' + "[" * DEEP + "]" * DEEP + "}", 126, id="list"),
        pytest.param('{"openapi": "3.0.0", "a": ' * DEEP + "1" + "}" * DEEP, 2601, id="objects"),
        pytest.param('{"openapi": "3.0.0", "a": ' + "[" * 150 + "]" * 150 + "}", 126, id="150"),
    ],
)
def test_the_openapi_importer_refuses_deep_json(text: str, where: int) -> None:
    """json.loads fails with RecursionError beyond ~1,000 levels, and the importer's
    recursive walks well before: the depth is checked, and located, for it."""
    error, elapsed, _ = refused(lambda: load_document(text, "api.json"))
    assert_located(error, (1, where), "nested more than 100 levels deep")
    assert str(error).startswith(f"api.json:1:{where}: ")
    assert elapsed < HANGS


def test_the_full_github_description_still_loads() -> None:
    cache = Path(os.environ.get("CONNECTQL_CACHE", Path.home() / ".cache" / "connectql-tests"))
    text = full_github_description(cache).read_text()
    assert len(text) > 10_000_000
    assert load_document(text) == json.loads(text)


ANCHORED = """\
spec_version: 1
connector: {name: shop}
config:
  base_url: {required: true}
source: {base_url: "{config.base_url}"}
types:
  Item:
    fields: {id: ID!, name: String}
operations:
  items:
    request: {path: /items}
    response: {type: "[Item!]!"}
    pagination: &pages {strategy: link_header, size_param: per_page, page_size: 50}
  cheap:
    request: &cheap {path: /items, query: {sort: price}}
    response: {type: "[Item!]!"}
    pagination: *pages
  dear:
    request:
      <<: *cheap
      query: {sort: -price}
    response: {type: "[Item!]!"}
    pagination: {<<: *pages, page_size: 10}
"""


def test_anchors_and_merge_keys_still_work() -> None:
    """Sharing a block is what anchors are for: within the budget they work as YAML says,
    and a mapping's own keys win over merged ones (they are not duplicates)."""
    spec = load_spec_text(ANCHORED, "shop.yaml")
    assert spec.operations["cheap"].pagination == spec.operations["items"].pagination
    assert spec.operations["dear"].request.path == "/items"
    assert spec.operations["dear"].request.query == {"sort": "-price"}
    assert spec.operations["dear"].pagination.page_size == 10  # type: ignore[union-attr]
    assert spec.operations["dear"].pagination.strategy == "link_header"
    assert ALIASES not in str(_errors(laughs(5)))  # 9^5 values: within the budget


def _errors(text: str) -> SpecErrors:
    with pytest.raises(SpecErrors) as caught:
        load_spec_text(text, "x.yaml")
    return caught.value


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        pytest.param("a: 2024-02-30\n", (1, 4), "not a valid timestamp", id="no-such-date"),
        pytest.param("a: !!int x\n", (1, 4), "not a valid int", id="bad-int"),
        pytest.param("a: " + "1" * 5000 + "\n", (1, 4), "not a valid int", id="5000-digits"),
        pytest.param("a: !secret x\n", (1, 4), "the tag '!secret' is not supported", id="tag"),
        pytest.param("a: 1\n<<: 5\n", (2, 5), "a merge key (<<) takes a mapping", id="merge"),
        pytest.param("? [a]\n: 1\n", (1, 3), "a key must be text or a number", id="list-key"),
    ],
)
def test_values_yaml_cannot_build_are_located(
    text: str, where: tuple[int, int], words: str
) -> None:
    """These raised ValueError or ConstructorError out of the loader (a 500 on the server)."""
    error = _errors(text)
    assert_located(error, where, words)


def test_connectql_validate_and_serve_refuse_bombs(tmp_path: Path) -> None:
    spec = tmp_path / "bomb.yaml"
    spec.write_text(laughs(9))
    started = time.perf_counter()
    validated = run_cli("validate", str(spec), cwd=tmp_path, timeout=60)
    assert validated.returncode == 1
    assert f"{spec}:7:10: {ALIASES}" in validated.stdout + validated.stderr
    with pytest.raises(SpecErrors):
        load_spec(spec)

    config = tmp_path / "connectql.yaml"
    config.write_text("hooks: &h [*h]\n")
    with pytest.raises(ConfigError, match=r"connectql\.yaml:1:12: the alias \*h is inside"):
        load_config(config)
    config.write_text("server: {}\nx:\n  " + laughs(9).replace("\n", "\n  "))
    with pytest.raises(ConfigError, match=rf"connectql\.yaml:9:12: {ALIASES}"):
        load_config(config)
    served = run_cli("serve", "--config", str(config), cwd=tmp_path, timeout=60)
    assert served.returncode == 2
    assert f"{config}:9:12: {ALIASES}" in served.stderr
    assert time.perf_counter() - started < 2 * 60  # two CLI starts, bounded by run_cli too


SERVED_BOMBS = [
    pytest.param(laughs(9), "openapi: 3.0.0\n" + laughs(9), id="billion-laughs"),
    pytest.param("a: &a [1, *a]\n", "openapi: 3.0.0\na: &a [1, *a]\n", id="recursive"),
    pytest.param(merges(30), "openapi: 3.0.0\n" + merges(30), id="merge-keys"),
    pytest.param(
        '{"a": ' * DEEP + "1" + "}" * DEEP,
        '{"openapi": "3.0.0", "a": ' * DEEP + "1" + "}" * DEEP,
        id="deep-json",
    ),
]

VALIDATE = """
mutation($spec: String!) {
  validateSpec(spec: $spec) { valid errors { message line column } }
}
"""
CREATE = """
mutation($spec: String!) {
  createConnector(spec: $spec) {
    __typename ... on SpecInvalid { errors { message line column } }
  }
}
"""
UPDATE = """
mutation($spec: String!) {
  updateConnector(name: "bookstore", spec: $spec) {
    __typename ... on SpecInvalid { errors { message line column } }
  }
}
"""
IMPORT = """
mutation($source: String!) { importOpenAPI(source: $source) { operations } }
"""


@pytest.mark.parametrize(("bomb", "document"), SERVED_BOMBS)
async def test_the_server_refuses_bombs_and_keeps_serving(
    tmp_path: Path, bomb: str, document: str
) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with (
        control_server(tmp_path) as (url, _),
        aiohttp.ClientSession(headers=headers) as http,
    ):
        created = await execute(
            url,
            "mutation($s: String!) { createConnector(spec: $s, start: false) { __typename } }",
            {"s": bookstore_spec_text()},
        )
        assert created.data == {"createConnector": {"__typename": "ConnectorChanged"}}

        async def graphql(query: str, source: str) -> Any:
            return await execute(url, query, {"spec": source, "source": source})

        async def rest(method: str, path: str) -> tuple[int, Any]:
            body = {"spec": bomb, "format": "json" if bomb.startswith("{") else "yaml"}
            async with http.request(method, f"{url}/api/connectors{path}", json=body) as resp:
                return resp.status, await resp.json()

        async def another_client() -> int:
            answered = 0
            for _ in range(20):
                result = await execute(url, "{ connectors { name } }")
                assert result.errors is None, result.errors
                answered += 1
            return answered

        async with asyncio.timeout(60):
            results = await asyncio.gather(
                graphql(VALIDATE, bomb),
                graphql(CREATE, bomb),
                graphql(UPDATE, bomb),
                graphql(IMPORT, document),
                rest("POST", ""),
                rest("PUT", "/bookstore"),
                another_client(),
            )
        validated, created_bomb, updated, imported, posted, put, answered = results

        assert validated.data["validateSpec"]["valid"] is False
        (problem,) = validated.data["validateSpec"]["errors"]
        assert problem["line"] is not None
        for result, field in ((created_bomb, "createConnector"), (updated, "updateConnector")):
            assert result.data[field]["__typename"] == "SpecInvalid"
            assert result.data[field]["errors"][0]["line"] is not None
        assert imported.errors[0]["extensions"]["code"] == "SPEC_INVALID"
        assert imported.errors[0]["message"].startswith("<document>:")
        for status, body in (posted, put):
            assert status == 422
            assert body["code"] == "SPEC_INVALID"
            assert body["problems"][0]["line"] is not None
        assert answered == 20
