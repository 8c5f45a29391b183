"""`connectql serve` as operators run it: where state goes, stateless mode, checked options,
and what the logs say."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
import yaml

from connectql.demo.runner import BOOKSTORE_SPEC
from connectql.testing import FakeUpstream, Fault
from tests.processes import Processes, read_only, run_cli
from tests.support import DEMO_KEY, bookstore_spec_text, execute

ADMIN = "admin-key-for-serve-tests-0123456789"
CREATE = "mutation($s: String!) { createConnector(spec: $s) { __typename } }"


def _files(directory: Path) -> set[str]:
    """What a server wrote in `directory`, besides the log the tests keep there."""
    return {p.name for p in directory.iterdir() if not p.name.startswith("serve-")}


async def test_a_read_only_config_directory_moves_state_to_the_user_data_dir(
    tmp_path: Path, processes: Processes
) -> None:
    config_dir, home, logs = tmp_path / "config", tmp_path / "home", tmp_path / "logs"
    config_dir.mkdir()
    (config_dir / "connectql.yaml").write_text("connectors: []\n")
    server = processes.serve(
        logs,
        "--config",
        str(config_dir / "connectql.yaml"),
        env={"HOME": str(home)},
        wrapper=read_only(config_dir),
    )
    await server.start()
    state = home / ".local" / "share" / "connectql"
    assert {"connectql.admin-key", "connectql.db", "connectql.key"} <= _files(state)
    assert _files(config_dir) == {"connectql.yaml"}
    key = (state / "connectql.admin-key").read_text().strip()
    result = await execute(server.url, "{ connectors { name } }", key=key)
    assert result.errors is None


async def test_a_chosen_state_dir_that_is_read_only_is_one_clear_line(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    for args, env in (
        (("--state-dir", str(state)), {}),
        ((), {"CONNECTQL_STATE_DIR": str(state)}),
    ):
        done = run_cli("serve", *args, cwd=tmp_path, env=env, wrapper=read_only(state))
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().splitlines()[-1] == (
            f"error: the state directory {state} is not writable (read-only file system); "
            "choose another with --state-dir or CONNECTQL_STATE_DIR, or run with --stateless"
        )
        assert "Traceback" not in done.stderr


async def test_stateless_writes_nothing_and_refuses_run_time_changes(
    tmp_path: Path, processes: Processes
) -> None:
    (tmp_path / "connectql.yaml").write_text(
        yaml.safe_dump(
            {
                "connectors": [
                    {
                        "spec": str(BOOKSTORE_SPEC),
                        "config": {"base_url": "http://127.0.0.1:9", "api_key": DEMO_KEY},
                    }
                ]
            }
        )
    )
    env = {"CONNECTQL_API_KEYS": f"admin:{ADMIN}", "CONNECTQL_STATELESS": "1"}
    server = await processes.serve(tmp_path, env=env).start()
    refused = await execute(server.url, CREATE, {"s": bookstore_spec_text()}, key=ADMIN)
    assert "stateless" in refused.errors[0]["message"]
    assert _files(tmp_path) == {"connectql.yaml"}


async def test_stateless_without_an_admin_key_keeps_management_closed(
    tmp_path: Path, processes: Processes
) -> None:
    server = await processes.serve(tmp_path, "--stateless").start()
    assert "management is closed" in server.output
    assert _files(tmp_path) == set()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(("--port", "0"), "0 is not in the range 1<=x<=65535", id="port-zero"),
        pytest.param(("--port", "70000"), "70000 is not in the range", id="port-too-big"),
        pytest.param(("--log-level", "foo"), "'foo' is not one of", id="log-level"),
        pytest.param(("--log-format", "xml"), "'xml' is not one of", id="log-format"),
    ],
)
def test_bad_options_are_refused_without_a_traceback(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    done = run_cli("serve", *args, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


async def test_json_logs_carry_request_ids_and_say_what_went_wrong_once(
    tmp_path: Path, bookstore: FakeUpstream, processes: Processes
) -> None:
    spec = tmp_path / "bookstore.yaml"
    spec.write_text(
        bookstore_spec_text(
            **{
                "source.circuit_breaker": {"failure_threshold": 2, "cool_down": 30},
                "source.retry": {"max_attempts": 1},
            }
        )
    )
    config = {
        "connectors": [
            {"spec": str(spec), "config": {"base_url": bookstore.url, "api_key": DEMO_KEY}}
        ]
    }
    (tmp_path / "connectql.yaml").write_text(yaml.safe_dump(config))
    server = await processes.serve(tmp_path, "--log-format", "json").start()
    bookstore.faults.add(Fault(status=503), times=10)
    for i in range(3):
        await execute(
            server.url,
            '{ bookstore { book(id: "1") { title } } }',
            key=None,
            headers={"X-Request-ID": f"req-{i}"},
        )
    await execute(server.url, "{ nope }", key=None, headers={"X-Request-ID": "req-bad"})
    await server.stop()

    lines = [json.loads(line) for line in server.output.splitlines()]
    assert all({"time", "level", "logger", "request_id", "message"} <= set(e) for e in lines)
    by_request = {e["request_id"]: e for e in lines if e["request_id"].startswith("req-")}
    assert by_request["req-0"]["level"] == "INFO"
    assert by_request["req-0"]["message"].startswith("UPSTREAM_ERROR at bookstore.book")
    assert by_request["req-bad"]["level"] == "INFO"
    # the document's hash, never its text: messages may quote its values
    assert by_request["req-bad"]["message"].startswith("request refused: GRAPHQL_VALIDATION_FAILED")
    warnings = [e["message"] for e in lines if e["level"] == "WARNING"]
    assert any("circuit closed → open" in m for m in warnings), warnings
    assert any(m.startswith("connector bookstore is down") for m in warnings), warnings
    assert not any("exception" in e for e in lines)  # expected failures: no tracebacks
    assert not any(e["logger"] == "uvicorn.access" for e in lines)  # off by default


async def test_access_log_on_request_without_query_strings(
    tmp_path: Path, processes: Processes
) -> None:
    server = await processes.serve(tmp_path, "--access-log").start()
    await execute(server.url, "{ schemaVersion }", key=None)
    async with aiohttp.ClientSession() as http:
        params = {"query": "{ schemaVersion }", "variables": '{"token": "SECRET-IN-GET"}'}
        async with http.get(f"{server.url}/graphql", params=params) as response:
            assert response.status == 200
    await server.stop()
    assert '"POST /graphql HTTP/1.1" 200' in server.output
    assert '"GET /graphql HTTP/1.1" 200' in server.output
    assert "SECRET-IN-GET" not in server.output


async def test_a_cursor_survives_a_restart(tmp_path: Path, processes: Processes) -> None:
    """Cursors are keyed by the state directory's secrets key, not a per-process key."""
    page = "query($after: String) { bookstore { books(first: 2, after: $after) { nodes { id } "
    page += "pageInfo { endCursor } } } }"
    server = await processes.serve(tmp_path).start()
    first = await execute(server.url, page, key=None)
    cursor = first.data["bookstore"]["books"]["pageInfo"]["endCursor"]
    await server.stop()
    again = await processes.serve(tmp_path, port=server.port).start()
    second = await execute(again.url, page, {"after": cursor}, key=None)
    assert second.errors is None, second.errors
    assert [n["id"] for n in second.data["bookstore"]["books"]["nodes"]] == ["3", "4"]
