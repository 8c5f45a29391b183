"""The `connectql` command, run as a user would run it."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
from click.testing import CliRunner

from connectql.cli.main import main
from connectql.demo.runner import BOOKSTORE_SPEC

BROKEN = """\
spec_version: 1
connector: {name: broken}
source: {base_url: "http://x"}
operations:
  listThings:
    request: {path: /things}
    response: {type: "[Thing]"}
    pagination: {strategy: links}
"""


def test_validate_ok_and_broken(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN)
    ok = CliRunner().invoke(main, ["validate", str(BOOKSTORE_SPEC)])
    assert ok.exit_code == 0, ok.output
    assert "ok (bookstore, 5 operations)" in ok.output
    bad = CliRunner().invoke(main, ["validate", str(BOOKSTORE_SPEC), str(broken)])
    assert bad.exit_code == 1
    assert f"{broken}:8:" in bad.output
    assert "operations.listThings.pagination.strategy" in bad.output
    assert "1 of 2 file(s) have errors" in bad.output


def test_schema_print_writes_the_demo_sdl(tmp_path: Path) -> None:
    out = tmp_path / "schema.graphql"
    result = CliRunner().invoke(main, ["schema", "print", "-o", str(out)])
    assert result.exit_code == 0, result.output
    sdl = out.read_text()
    assert "type BookstoreBook {" in sdl
    assert "bookstore: BookstoreQuery!" in sdl


def test_serve_with_a_config_naming_a_missing_env_var(tmp_path: Path) -> None:
    config = tmp_path / "connectql.yaml"
    config.write_text(
        f"connectors:\n  - spec: {BOOKSTORE_SPEC}\n    config:\n"
        "      base_url: http://127.0.0.1:9\n      api_key: '{env.CONNECTQL_TEST_UNSET}'\n"
    )
    result = CliRunner().invoke(main, ["serve", "--config", str(config)])
    assert result.exit_code == 2
    assert "environment variable CONNECTQL_TEST_UNSET is not set" in result.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_serve_with_no_arguments_starts_the_demo(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("CONNECTQL_CONFIG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "connectql.cli.main", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                try:
                    async with http.get(f"{url}/readyz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.05)
            query = "{ bookstore { books(first: 3) { nodes { title author { name } } } } }"
            async with http.post(f"{url}/graphql", json={"query": query}) as resp:
                body = await resp.json()
        assert body == {
            "data": {
                "bookstore": {
                    "books": {
                        "nodes": [
                            {"title": "Book 1", "author": {"name": "Author 2"}},
                            {"title": "Book 2", "author": {"name": "Author 3"}},
                            {"title": "Book 3", "author": {"name": "Author 4"}},
                        ]
                    }
                }
            }
        }
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, output.decode()
    assert b"serving the demo bookstore connector" in output
