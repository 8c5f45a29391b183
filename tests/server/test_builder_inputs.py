"""The builder mutations' names and paths from clients: a bad one is the client's error
(BAD_USER_INPUT, or the code of what it breaks), named clearly, never INTERNAL, and nothing
is written for it, least of all outside builder.output_dir."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from connectql.control.service import ControlPlane
from tests.builder.test_openapi import PETSTORE
from tests.support import bookstore_spec_text, control_server, execute

GENERATE = """
mutation($package: String, $dry: Boolean!) {
  generateClient(connector: "bookstore", package: $package, dryRun: $dry) {
    writtenTo files { path }
  }
}
"""

BAD_PACKAGES = [
    pytest.param("../../etc", "is not a Python identifier", id="parent-path"),
    pytest.param("/tmp/x", "is not a Python identifier", id="absolute-path"),
    pytest.param("a b", "is not a Python identifier", id="space"),
    pytest.param("", "is not a Python identifier", id="empty"),
    pytest.param("1abc", "is not a Python identifier", id="digit-first"),
    pytest.param("bücher", "is not a Python identifier", id="not-ascii"),
    pytest.param("a\x00b", "is not a Python identifier", id="nul"),
    pytest.param("import", "is a Python keyword", id="keyword"),
    pytest.param("x" * 300, "is longer than 100 characters", id="300-characters"),
    pytest.param("json", "would hide the module json", id="stdlib-module"),
    pytest.param("connectql", "would hide the module connectql", id="runtime-module"),
]


@pytest.fixture
async def builder(tmp_path: Path) -> AsyncIterator[tuple[str, ControlPlane, Path]]:
    out, state = tmp_path / "out", tmp_path / "state"
    state.mkdir()
    async with control_server(state) as (url, control):
        control.output_dir = str(out)
        created = await execute(
            url,
            "mutation($s: String!) { createConnector(spec: $s, start: false) { __typename } }",
            {"s": bookstore_spec_text()},
        )
        assert created.data == {"createConnector": {"__typename": "ConnectorChanged"}}
        yield url, control, out


def files_under(path: Path) -> list[str]:
    """Files under `path`, but for the registry's (in state/)."""
    found = (p.relative_to(path) for p in path.rglob("*") if p.is_file())
    return sorted(str(p) for p in found if p.parts[0] != "state")


@pytest.mark.parametrize(("package", "words"), BAD_PACKAGES)
@pytest.mark.parametrize("dry", [pytest.param(True, id="dry"), pytest.param(False, id="write")])
async def test_a_bad_package_name_is_the_clients_error(
    tmp_path: Path,
    builder: tuple[str, ControlPlane, Path],
    package: str,
    words: str,
    dry: bool,
) -> None:
    url, _, _ = builder
    before = files_under(tmp_path)
    result = await execute(url, GENERATE, {"package": package, "dry": dry})
    assert result.data is None
    (error,) = result.errors
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith("package name ")
    assert words in error["message"]
    assert len(error["message"]) < 200  # a long name is cut, not echoed whole
    assert files_under(tmp_path) == before  # nothing written anywhere


async def test_a_good_package_name_writes_inside_the_output_directory(
    builder: tuple[str, ControlPlane, Path],
) -> None:
    url, _, out = builder
    result = await execute(url, GENERATE, {"package": "shop_v2", "dry": False})
    assert result.errors is None, result.errors
    assert result.data["generateClient"]["writtenTo"] == str(out / "clients")
    assert "shop_v2/client.py" in files_under(out / "clients")
    default = await execute(url, GENERATE, {"package": None, "dry": True})
    assert "bookstore_client/client.py" in [
        f["path"] for f in default.data["generateClient"]["files"]
    ]


BAD_NAMES = ["../../etc", "a b", "1abc", "x" * 300, "a\x00b"]


async def call(url: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The one error of `query`, which must be a client's error, not INTERNAL."""
    result = await execute(url, query, variables)
    assert result.errors, result.data
    (error,) = result.errors
    assert error["extensions"]["code"] != "INTERNAL", error
    return dict(error)


@pytest.mark.parametrize("name", [pytest.param(n, id=repr(n)[:12]) for n in BAD_NAMES])
async def test_other_builder_names_are_checked(
    tmp_path: Path, builder: tuple[str, ControlPlane, Path], name: str
) -> None:
    url, control, _ = builder
    before = files_under(tmp_path)
    imported = await call(
        url,
        "mutation($s: String!, $n: String, $l: JSON) "
        "{ importOpenAPI(source: $s, name: $n, lock: $l, dryRun: false) { operations } }",
        {"s": PETSTORE.read_text(), "n": name, "l": None},
    )
    assert imported["extensions"]["code"] == "SPEC_INVALID"
    assert ".yaml connector.name: " in imported["message"]
    locked = await call(
        url,
        "mutation($s: String!, $l: JSON) { importOpenAPI(source: $s, lock: $l) { operations } }",
        {"s": PETSTORE.read_text(), "l": {"connector": name}},
    )
    assert locked["extensions"]["code"] == "SPEC_INVALID"
    inferred = await call(
        url,
        "mutation($t: String!) { inferTypes(samples: [{a: 1}], typeName: $t, "
        'connector: "bookstore") { types } }',
        {"t": name},
    )
    assert inferred["extensions"]["code"] == "BAD_REQUEST"
    assert "is not a type name" in inferred["message"]
    docs = await call(
        url,
        "mutation($c: String!) { generateDocs(connector: $c, dryRun: false) { writtenTo } }",
        {"c": name},
    )
    assert docs["extensions"]["code"] == "NOT_FOUND"
    assert set(control.stored) == {"bookstore"}
    assert control.stored["bookstore"].version == 1
    assert files_under(tmp_path) == before
