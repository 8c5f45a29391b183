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


async def test_connectors_commands_manage_a_running_server(tmp_path: Path) -> None:
    from connectql.demo.upstream import create_bookstore_app
    from connectql.testing import FakeUpstream
    from tests.support import ADMIN_KEY, DEMO_KEY, bookstore_spec_text, control_server

    spec = tmp_path / "bookstore.yaml"
    spec.write_text(bookstore_spec_text())
    runner = CliRunner()

    async with (
        FakeUpstream(create_bookstore_app(DEMO_KEY)) as upstream,
        control_server(tmp_path) as (url, control),
    ):

        async def cli(*args: str) -> tuple[int, str]:
            argv = ["connectors", "--server", url, "--key", ADMIN_KEY, *args]
            result = await asyncio.to_thread(runner.invoke, main, argv)
            return result.exit_code, result.output

        code, out = await cli(
            "create", str(spec), "--set", f"base_url={upstream.url}", "--set", f"api_key={DEMO_KEY}"
        )
        assert (code, out.split(" (")[0]) == (0, "created bookstore")
        code, out = await cli("list")
        assert out.split("\t")[:3] == ["bookstore", "running", "up"]
        code, out = await cli("stop", "bookstore")
        assert code == 1
        assert "refused, the change is breaking (use --force)" in out
        assert (await cli("stop", "bookstore", "--force"))[0] == 0
        assert control.stored["bookstore"].desired_state == "stopped"
        assert (await cli("start", "bookstore"))[0] == 0
        assert (await cli("delete", "bookstore", "--force"))[0] == 0
        assert control.stored == {}
        code, out = await cli("start", "bookstore")
        assert code == 1
        assert "NOT_FOUND: no connector named 'bookstore'" in out
        bad = await asyncio.to_thread(
            runner.invoke,
            main,
            ["connectors", "--server", url, "--key", "wrong-key-0000000000", "list"],
        )
        assert bad.exit_code == 1
        assert "UNAUTHENTICATED" in bad.output


def test_prebuilt_connectors_from_connectql_yaml(tmp_path: Path) -> None:
    from connectql.config import load_config
    from connectql.runtime import Runtime

    config = tmp_path / "connectql.yaml"
    config.write_text(
        "connectors:\n"
        "  - builtin: openai\n"
        "    config: {api_key: '{env.OPENAI_API_KEY}', base_url: 'http://127.0.0.1:9/v1'}\n"
        "  - builtin: github\n"
        "    config: {token: '{env.GITHUB_TOKEN}'}\n"
    )
    env = {"OPENAI_API_KEY": "sk-from-env-0123456789", "GITHUB_TOKEN": "ghp_from_env_0123"}
    runtime = Runtime.from_config(load_config(config, env=env))
    assert sorted(runtime.connectors) == ["github", "openai"]
    assert runtime.connectors["openai"].config["api_key"] == env["OPENAI_API_KEY"]
    assert runtime.connectors["openai"].base_url == "http://127.0.0.1:9/v1"
    assert runtime.connectors["github"].base_url == "https://api.github.com"
    config.write_text("connectors:\n  - builtin: gitlab\n")
    result = CliRunner().invoke(main, ["schema", "print", "--config", str(config)])
    assert result.exit_code != 0
    assert "no prebuilt connector named 'gitlab' (prebuilt: github, openai, slack)" in result.output
