"""The builder's commands, run as a user runs them."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from connectql.cli.main import main
from connectql.demo.runner import BOOKSTORE_SPEC
from connectql.demo.upstream import create_bookstore_app, make_catalogue
from connectql.spec.loader import load_spec
from connectql.testing import FakeUpstream
from tests.processes import EXECUTABLE, clean_env, run_cli

PETSTORE = Path(__file__).parent.parent / "builder" / "data" / "petstore.yaml"


def test_import_openapi_writes_a_spec_a_lockfile_and_a_report(tmp_path: Path) -> None:
    out, lock = tmp_path / "petstore.yaml", tmp_path / "petstore.lock.json"
    result = CliRunner().invoke(
        main,
        [
            "import",
            "openapi",
            str(PETSTORE),
            "-o",
            str(out),
            "--lock",
            str(lock),
            "--query",
            "deletePet",
        ],
    )
    assert result.exit_code == 0, result.output
    spec = load_spec(out)
    assert spec.operations["deletePet"].kind == "query"  # overridden
    assert "things skipped" in result.output
    names = json.loads(lock.read_text())["names"]
    assert names["op:GET /pets"] == "listPets"
    again = CliRunner().invoke(main, ["import", "openapi", str(PETSTORE), "--lock", str(lock)])
    assert yaml.safe_load(again.output.split("imported")[0])["operations"].keys() == (
        yaml.safe_load(out.read_text())["operations"].keys()
    )


def test_outputs_go_into_folders_that_do_not_exist_yet(tmp_path: Path) -> None:
    runner = CliRunner()
    imported = runner.invoke(
        main,
        [
            "import",
            "openapi",
            str(PETSTORE),
            "-o",
            str(tmp_path / "specs" / "petstore.yaml"),
            "--lock",
            str(tmp_path / "locks" / "petstore.json"),
        ],
    )
    assert imported.exit_code == 0, imported.output
    docs = runner.invoke(
        main, ["generate", "docs", str(BOOKSTORE_SPEC), "-o", str(tmp_path / "docs" / "b.md")]
    )
    assert docs.exit_code == 0, docs.output
    new = runner.invoke(main, ["new", "my_api", "-o", str(tmp_path / "drafts" / "my_api.yaml")])
    assert new.exit_code == 0, new.output
    load_spec(tmp_path / "specs" / "petstore.yaml")
    assert json.loads((tmp_path / "locks" / "petstore.json").read_text())["names"]
    assert (tmp_path / "docs" / "b.md").read_text().startswith("# ")
    load_spec(tmp_path / "drafts" / "my_api.yaml")


def stderr_on_a_terminal(*args: str, cwd: Path) -> str:
    """Run `connectql ARGS` with its stderr on a pseudo-terminal; what it wrote there."""
    controller, terminal = pty.openpty()
    with subprocess.Popen(
        [str(EXECUTABLE), *args],
        cwd=cwd,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=terminal,
    ) as process:
        os.close(terminal)
        chunks = []
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert process.wait(60) == 0
    os.close(controller)
    return b"".join(chunks).decode()


def test_import_shows_progress_on_a_terminal_only(tmp_path: Path) -> None:
    args = ("import", "openapi", str(PETSTORE), "-o", "petstore.yaml")
    on_terminal = stderr_on_a_terminal(*args, cwd=tmp_path)
    assert f"reading {PETSTORE}" in on_terminal
    assert f"importing 7 operations  [{'#' * 36}]  100%" in on_terminal  # 2 are skipped
    assert "imported 6 operations" in on_terminal  # then the report
    piped = run_cli(*args, cwd=tmp_path)
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr.startswith("imported 6 operations")


def test_infer_shows_the_diff_and_writes_when_asked(tmp_path: Path) -> None:
    books, _ = make_catalogue(n_books=5)
    sample = tmp_path / "books.json"
    sample.write_text(json.dumps({"items": list(books.values())}))
    spec = tmp_path / "bookstore.yaml"
    spec.write_text(BOOKSTORE_SPEC.read_text())
    result = CliRunner().invoke(
        main, ["infer", str(sample), "--root", "Book", "--records", "items", "--spec", str(spec)]
    )
    assert result.exit_code == 0, result.output
    assert "Book:" in result.output
    assert "Book.genre: type" in result.output  # declared an enum; the sample has strings
    unchanged = spec.read_text()
    written = CliRunner().invoke(
        main,
        [
            "infer",
            str(sample),
            "--root",
            "Book",
            "--records",
            "items",
            "--spec",
            str(spec),
            "--write",
        ],
    )
    assert written.exit_code == 0, written.output
    assert spec.read_text() != unchanged
    load_spec(spec)


@pytest.mark.parametrize("template", ["rest-bearer", "oauth2", "paginated", "batch"])
def test_new_from_each_template(tmp_path: Path, template: str) -> None:
    out = tmp_path / "my_api.yaml"
    result = CliRunner().invoke(main, ["new", "my_api", "--template", template, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert load_spec(out).name == "my_api"
    again = CliRunner().invoke(main, ["new", "my_api", "--template", template, "-o", str(out)])
    assert again.exit_code != 0
    assert "not overwriting" in again.output


def test_new_refuses_a_bad_name(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["new", "My-API", "-o", str(tmp_path / "x.yaml")])
    assert result.exit_code != 0
    assert "is not a connector name" in result.output


def test_generate_docs(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["generate", "docs", str(BOOKSTORE_SPEC)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# ")
    assert "bookstore" in result.output


def spec_with_a_test(directory: Path) -> Path:
    raw = yaml.safe_load(BOOKSTORE_SPEC.read_text())
    raw["tests"] = [
        {
            "name": "a book",
            "operation": "book",
            "args": {"id": "2"},
            "fixture": "fixtures/book.json",
            "expect": {"requests": 1, "results": 1},
        }
    ]
    spec = directory / "bookstore.yaml"
    spec.write_text(yaml.safe_dump(raw, sort_keys=False))
    return spec


async def test_record_then_test_offline(tmp_path: Path) -> None:
    spec = spec_with_a_test(tmp_path)
    runner = CliRunner()
    async with FakeUpstream(create_bookstore_app("cli-key-0123456789")) as upstream:
        recorded = await asyncio.to_thread(
            runner.invoke,
            main,
            [
                "test",
                str(spec),
                "--record",
                "--set",
                f"base_url={upstream.url}",
                "--set",
                "api_key=cli-key-0123456789",
            ],
        )
    assert recorded.exit_code == 0, recorded.output
    assert "cli-key-0123456789" not in (tmp_path / "fixtures" / "book.json").read_text()
    replayed = await asyncio.to_thread(runner.invoke, main, ["test", str(spec)])
    assert replayed.exit_code == 0, replayed.output
    assert "ok   a book (1 requests)" in replayed.output
    assert "1 passed, 0 failed" in replayed.output


async def test_record_reads_env_placeholders_and_keeps_fixtures_on_failure(
    tmp_path: Path,
) -> None:
    spec, fixture = spec_with_a_test(tmp_path), tmp_path / "fixtures" / "book.json"
    runner = CliRunner()
    key = "env-key-0123456789"

    def record(env: dict[str, str | None]) -> Result:
        args = ["test", str(spec), "--record", "--set", f"base_url={upstream.url}"]
        args += ["--set", "api_key={env.BOOKSTORE_KEY}"]
        return runner.invoke(main, args, env=env)

    async with FakeUpstream(create_bookstore_app(key)) as upstream:
        unset = await asyncio.to_thread(record, {"BOOKSTORE_KEY": None})
        assert not fixture.exists()
        recorded = await asyncio.to_thread(record, {"BOOKSTORE_KEY": key})
        good = fixture.read_text()
        refused = await asyncio.to_thread(record, {"BOOKSTORE_KEY": "wrong-key-0123456789"})
    assert unset.exit_code == 2
    assert "--set api_key: environment variable BOOKSTORE_KEY is not set" in unset.output
    assert recorded.exit_code == 0, recorded.output
    assert f"recorded {fixture}" in recorded.output
    assert refused.exit_code == 1
    assert "FAIL a book: UNAUTHENTICATED: the upstream refused the credentials" in refused.output
    assert "no fixture written: the recorded ones are unchanged" in refused.output
    assert "wrong-key-0123456789" not in refused.output
    assert fixture.read_text() == good


def test_generate_client_and_check(tmp_path: Path) -> None:
    out = tmp_path / "clients"
    runner = CliRunner()
    first = runner.invoke(main, ["generate", "client", str(BOOKSTORE_SPEC), "-o", str(out)])
    assert first.exit_code == 0, first.output
    check = runner.invoke(
        main, ["generate", "client", str(BOOKSTORE_SPEC), "-o", str(out), "--check"]
    )
    assert check.exit_code == 0, check.output
    client = next(out.rglob("client.py"))
    client.write_text(client.read_text() + "\n# edited\n")
    stale = runner.invoke(
        main, ["generate", "client", str(BOOKSTORE_SPEC), "-o", str(out), "--check"]
    )
    assert stale.exit_code == 1
    assert "differs:" in stale.output


def test_generate_client_refuses_a_bad_package_name_without_a_traceback(tmp_path: Path) -> None:
    from tests.processes import run_cli

    done = run_cli(
        "generate", "client", str(BOOKSTORE_SPEC), "-o", "out", "--package", "a b", cwd=tmp_path
    )
    assert done.returncode == 2
    assert "Invalid value for --package: package name 'a b' is not a Python identifier" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()
