"""The README's run-time management: createConnector, the connectors and keys commands."""

from __future__ import annotations

from pathlib import Path

import yaml

from connectql.testing import FakeUpstream
from tests.processes import Processes, ServeProcess
from tests.readme.test_quickstart import bash
from tests.readme.walkthrough_service import TOKEN, tasks_service
from tests.readme_blocks import block
from tests.support import execute

CONFIG = {"egress": {"allow": ["127.0.0.1"]}}  # the fakes live on loopback
TASKS = "{ NAME { tasks(status: OPEN, first: 5) { nodes { title assignee { name } } } } }"


async def _server(tmp_path: Path, processes: Processes) -> tuple[ServeProcess, str]:
    """A server whose admin key was generated into tmp_path, as in the README."""
    (tmp_path / "connectql.yaml").write_text(yaml.safe_dump(CONFIG))
    server = await processes.serve(tmp_path).start()
    return server, (tmp_path / "connectql.admin-key").read_text().strip()


async def test_create_connector_mutation(tmp_path: Path, processes: Processes) -> None:
    server, admin = await _server(tmp_path, processes)
    async with FakeUpstream(tasks_service()) as service:
        mutation = (
            block("create-connector-mutation")
            .replace("https://api.example.com", service.url)
            .replace('"…"', f'"{TOKEN}"')
        )
        created = await execute(
            server.url, mutation, {"yaml": block("walkthrough-spec")}, key=admin
        )
        assert created.errors is None, created.errors
        changed = created.data["createConnector"]
        assert changed["applied"] is True
        assert changed["connector"]["name"] == "tasks"
        result = await execute(server.url, TASKS.replace("NAME", "tasks"), key=None)
        assert result.errors is None
        assert len(result.data["tasks"]["tasks"]["nodes"]) == 5
    assert TOKEN not in server.output


async def test_connectors_and_keys_commands(tmp_path: Path, processes: Processes) -> None:
    server, admin = await _server(tmp_path, processes)
    local = f"http://127.0.0.1:{server.port}"
    specs = tmp_path / "specs"
    specs.mkdir()
    shop = yaml.safe_load(block("walkthrough-spec"))
    shop["connector"]["name"] = "shop"
    (specs / "shop.yaml").write_text(yaml.safe_dump(shop))
    async with FakeUpstream(tasks_service()) as service:
        script = (
            block("connectors-cli")
            .replace("http://127.0.0.1:8000", local)
            .replace("https://shop.example", service.url)
            .replace("token=…", f"token={TOKEN}")
        )
        out = bash(script, tmp_path)
        assert "created shop" in out
        header, row = out.splitlines()[1:3]
        assert header.split() == ["NAME", "STATE", "HEALTH", "VERSION", "SOURCE"]
        assert row.split()[:2] == ["shop", "running"]
        assert "stopped shop" in out
        assert (await execute(server.url, TASKS.replace("NAME", "shop"), key=None)).errors

        env = {"CONNECTQL_URL": local, "CONNECTQL_API_KEY": admin}
        create, listing, revoke = block("keys-cli").strip().splitlines()
        viewer_key = bash(create, tmp_path, env).strip()
        assert viewer_key.startswith("cq_")
        assert "dashboard" in bash(listing, tmp_path, env)
        seen = await execute(server.url, "{ connectors { name } }", key=viewer_key)
        assert seen.errors is None
        refused = await execute(
            server.url, 'mutation { startConnector(name: "shop") { __typename } }', key=viewer_key
        )
        assert refused.errors[0]["extensions"]["code"] == "FORBIDDEN"
        assert "revoked dashboard" in bash(revoke, tmp_path, env)
        gone = await execute(server.url, "{ connectors { name } }", key=viewer_key)
        assert gone.errors
    assert viewer_key not in server.output
