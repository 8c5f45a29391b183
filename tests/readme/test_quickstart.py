"""The README's quickstart, configuration and walkthrough, run as a user runs them: the
installed `connectql` in a subprocess, shell blocks through bash, Python blocks as scripts."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from connectql.connectors.builtin import builtin_spec
from connectql.demo.runner import BOOKSTORE_SPEC
from connectql.testing import FakeUpstream, Fault
from tests.processes import EXECUTABLE, Processes, clean_env, run_cli
from tests.readme.walkthrough_service import TOKEN, tasks_service
from tests.readme_blocks import block
from tests.support import DEMO_KEY, execute


def bash(script: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a README shell block with bash (errors stop it), `connectql` on the PATH."""
    path = f"{EXECUTABLE.parent}{os.pathsep}{os.environ['PATH']}"
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=clean_env({"PATH": path, **(env or {})}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{script}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    return done.stdout


async def test_quickstart_demo_query_mutation_and_script(
    tmp_path: Path, processes: Processes
) -> None:
    argv = shlex.split(block("quickstart-serve"))
    assert argv == ["connectql", "serve"]
    server = await processes.serve(tmp_path).start()

    books = await execute(server.url, block("quickstart-query"), key=None)
    assert books.errors is None
    nodes = books.data["bookstore"]["books"]["nodes"]
    assert nodes
    assert all(n["author"]["name"] for n in nodes)

    mutation = block("quickstart-mutation").replace("127.0.0.1:8000", f"127.0.0.1:{server.port}")
    created = json.loads(bash(mutation, tmp_path))
    assert created["data"]["bookstore"]["createBook"]["author"] == {"name": "Author 3"}
    assert (tmp_path / "connectql.admin-key").stat().st_mode & 0o777 == 0o600

    # The generated key is kept: after a restart the same command still works.
    await server.stop()
    again = await processes.serve(tmp_path, port=server.port).start()
    assert "admin API key: the one kept in" in again.output
    assert json.loads(bash(mutation, tmp_path))["data"]["bookstore"]["createBook"]["id"]

    script = tmp_path / "query.py"
    script.write_text(block("quickstart-gql").replace("127.0.0.1:8000", f"127.0.0.1:{again.port}"))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "'title': 'Book 7'" in done.stdout


async def test_the_configuration_block_as_written(tmp_path: Path, processes: Processes) -> None:
    (tmp_path / "connectql.yaml").write_text(block("config-yaml"))
    specs = tmp_path / "specs"
    specs.mkdir()
    shutil.copy(builtin_spec("github"), specs / "github.yaml")
    shutil.copy(BOOKSTORE_SPEC, specs / "internal.yaml")
    hooks = tmp_path / "mycompany"
    hooks.mkdir()
    (hooks / "__init__.py").write_text("")
    (hooks / "connectql_hooks.py").write_text(
        "from pathlib import Path\n\n\ndef register(hooks):\n"
        "    Path('hooks-registered').write_text('yes')\n"
    )
    env = {"GITHUB_TOKEN": "ghp_config0123456789abcdef", "PYTHONPATH": str(tmp_path)}
    server = await processes.serve(tmp_path, env=env).start()
    listed = await execute(server.url, "{ connectors { name } }", key=None)
    assert listed.data == {"connectors": [{"name": "github"}]}  # internal: enabled: false
    assert (tmp_path / "hooks-registered").read_text() == "yes"


async def test_an_upstream_failure_looks_like_the_readme_example(
    tmp_path: Path, bookstore: FakeUpstream, processes: Processes
) -> None:
    (tmp_path / "connectql.yaml").write_text(
        yaml.safe_dump(
            {
                "connectors": [
                    {
                        "spec": str(BOOKSTORE_SPEC),
                        "config": {"base_url": bookstore.url, "api_key": DEMO_KEY},
                    }
                ]
            }
        )
    )
    server = await processes.serve(tmp_path).start()
    bookstore.faults.add(Fault(status=503), times=10)
    result = await execute(server.url, '{ bookstore { book(id: "2") { title } } }', key=None)
    (error,) = result.errors
    error.pop("locations")
    assert error == json.loads(block("error-example"))
    assert "UPSTREAM_ERROR at bookstore.book" in server.output
    assert "Traceback" not in server.output


async def test_the_walkthrough_through_the_cli(tmp_path: Path, processes: Processes) -> None:
    (tmp_path / "tasks.yaml").write_text(block("walkthrough-spec"))
    checked = run_cli("validate", "tasks.yaml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    async with FakeUpstream(tasks_service()) as service:
        (tmp_path / "connectql.yaml").write_text(
            "connectors:\n  - spec: tasks.yaml\n    config:\n"
            f"      base_url: {service.url}\n      token: '{{env.TASKS_TOKEN}}'\n"
        )
        server = await processes.serve(tmp_path, env={"TASKS_TOKEN": TOKEN}).start()
        result = await execute(server.url, block("walkthrough-query"), key=None)
        assert result.errors is None
        nodes = result.data["tasks"]["tasks"]["nodes"]
        assert len(nodes) == 40  # the open tasks
        assert {n["assignee"]["name"] for n in nodes} == {f"Person {i}" for i in range(4)}
        assert service.count("GET", "/tasks") == 2  # 40 open tasks, 20 a page, total known
        assert sum(1 for r in service.requests if r.path.startswith("/people/")) == 4
