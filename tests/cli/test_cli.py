"""The `connectql` command, run as a user would run it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from connectql.cli.main import main
from connectql.connectors.builtin import builtin_names
from connectql.demo.runner import BOOKSTORE_SPEC
from connectql.testing import FakeUpstream
from tests.processes import Processes, run_cli
from tests.support import DEMO_KEY, execute

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
    out = tmp_path / "new" / "schema.graphql"
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
    result = run_cli("serve", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert "environment variable CONNECTQL_TEST_UNSET is not set" in result.stderr
    assert "Traceback" not in result.stderr


async def test_serve_fills_env_placeholders_alone_and_in_text(
    tmp_path: Path, bookstore: FakeUpstream, processes: Processes
) -> None:
    prefix, _, suffix = DEMO_KEY.partition("-")
    (tmp_path / "connectql.yaml").write_text(
        f"connectors:\n  - spec: {BOOKSTORE_SPEC}\n    config:\n"
        "      base_url: '{env.BOOKSTORE_URL}'\n"
        "      api_key: '{env.KEY_PREFIX}-{env.KEY_SUFFIX}'\n"
    )
    env = {"BOOKSTORE_URL": bookstore.url, "KEY_PREFIX": prefix, "KEY_SUFFIX": suffix}
    server = await processes.serve(tmp_path, env=env).start()
    result = await execute(server.url, '{ bookstore { book(id: "2") { title } } }', key=None)
    assert result.errors is None, result.errors
    assert result.data == {"bookstore": {"book": {"title": "Book 2"}}}
    assert bookstore.requests[-1].headers["X-Api-Key"] == DEMO_KEY


async def test_serve_with_no_arguments_starts_the_demo(
    tmp_path: Path, processes: Processes
) -> None:
    server = await processes.serve(tmp_path).start()
    query = "{ bookstore { books(first: 3) { nodes { title author { name } } } } }"
    result = await execute(server.url, query, key=None)
    assert result.data == {
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
    assert await server.stop() == 0
    assert "serving the demo bookstore connector" in server.output


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
        assert out.splitlines()[1].split()[:3] == ["bookstore", "running", "up"]
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


def test_an_unknown_prebuilt_connector_is_named(tmp_path: Path) -> None:
    config = tmp_path / "connectql.yaml"
    config.write_text("connectors:\n  - builtin: gitlab\n")
    result = run_cli("schema", "print", "--config", str(config), cwd=tmp_path)
    assert result.returncode != 0
    known = ", ".join(builtin_names())  # every prebuilt, whichever are added later
    assert f"no prebuilt connector named 'gitlab' (prebuilt: {known})" in result.stderr


def test_version_and_help_do_not_load_the_server() -> None:
    """Start-up time comes from imports: `--version` and `--help` must not load the server's
    libraries (measured: 1.4 s before subcommands were imported lazily, 0.08 s after)."""
    probe = (
        "import sys\n"
        "from connectql.cli.main import main\n"
        "for args in (['--version'], ['--help']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = {'fastapi', 'strawberry', 'aiohttp', 'graphql', 'sqlalchemy', 'uvicorn'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"
