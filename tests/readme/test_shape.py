"""The README's shape controls: its spec served by `connectql serve` against the tracker
fake answers its query, and a clashing root operation stops the server with its error."""

from __future__ import annotations

from pathlib import Path

import yaml

from connectql.testing import FakeUpstream
from tests.fakes.tracker import TRACKER_TOKEN, create_tracker_app
from tests.processes import Processes, free_port, run_cli
from tests.readme_blocks import block
from tests.support import execute

CLASHING_OPERATION = """\
  connectors:
    request: {path: /connectors}
    response: {type: JSON}
"""


def _write(folder: Path, spec: str, base_url: str) -> None:
    (folder / "specs").mkdir(parents=True, exist_ok=True)
    (folder / "specs" / "tracker.yaml").write_text(spec)
    entry = {
        "spec": "specs/tracker.yaml",
        "config": {"base_url": base_url, "token": "{env.TRACKER_TOKEN}"},
    }
    (folder / "connectql.yaml").write_text(yaml.safe_dump({"connectors": [entry]}))


async def test_the_shape_spec_answers_the_shape_query(tmp_path: Path, processes: Processes) -> None:
    async with FakeUpstream(create_tracker_app()) as tracker:
        _write(tmp_path, block("shape-spec"), tracker.url)
        checked = run_cli("validate", "specs/tracker.yaml", cwd=tmp_path)
        assert checked.stdout.strip() == "specs/tracker.yaml: ok (tracker, 2 operations)"
        env = {"TRACKER_TOKEN": TRACKER_TOKEN}
        server = await processes.serve(tmp_path, env=env).start()
        result = await execute(server.url, block("shape-query"), key=None)
        assert result.errors is None, result.errors
        nodes = result.data["issues"]["nodes"]
        assert [n["number"] for n in nodes] == [49, 48]  # open ones: the upstream's default
        for node in nodes:
            assert node["author"]["login"]
            assert [i["number"] for i in node["author"]["closed"]] == [50, 45, 40]
        assert tracker.count("GET", "/users") == 1  # both authors in one multi-get
        schema = await execute(
            server.url, "{ __schema { queryType { fields { name } } } }", key=None
        )
        names = {f["name"] for f in schema.data["__schema"]["queryType"]["fields"]}
        assert "issues" in names
        assert not {"tracker", "user"} & names
        assert TRACKER_TOKEN not in server.output


def test_a_clashing_root_operation_stops_serve(tmp_path: Path) -> None:
    _write(tmp_path, block("shape-spec") + CLASHING_OPERATION, "http://127.0.0.1:9")
    done = run_cli(
        "serve", "--port", str(free_port()), cwd=tmp_path, env={"TRACKER_TOKEN": "t"}, timeout=60
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == block("shape-clash").strip()
