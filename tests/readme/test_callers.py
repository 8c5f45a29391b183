"""The README's caller-credentials section as a user runs it: its spec validated and served by
the installed `connectql` with its connectql.yaml, its curl command through bash and its
WebSocket script as a script, against a fake whose answers depend on the token."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import yaml

from connectql.testing import FakeUpstream
from tests.fakes.accounts import TOKENS, AccountsState, create_accounts_app
from tests.processes import Processes, run_cli
from tests.readme.test_quickstart import bash
from tests.readme_blocks import block


async def test_callers_section_calls_the_upstream_as_each_caller(
    tmp_path: Path, processes: Processes
) -> None:
    (tmp_path / "hub.yaml").write_text(block("callers-spec"))
    validated = run_cli("validate", "hub.yaml", cwd=tmp_path)
    assert validated.returncode == 0, validated.stderr
    (tmp_path / "connectql.yaml").write_text(block("callers-config"))
    assert yaml.safe_load(block("callers-config"))["connectors"][0]["spec"] == "hub.yaml"

    async with FakeUpstream(create_accounts_app(AccountsState.seeded())) as hub:
        server = await processes.serve(tmp_path, env={"HUB_URL": hub.url}).start()
        key = (tmp_path / "connectql.admin-key").read_text().strip()
        curl = block("callers-curl").replace("127.0.0.1:8000", f"127.0.0.1:{server.port}")

        async def ask(token: str) -> dict[str, object]:
            env = {"CONNECTQL_KEY": key, "GITHUB_TOKEN": token}
            out = await asyncio.to_thread(bash, curl, tmp_path, env)  # the fake keeps serving
            answer: dict[str, object] = json.loads(out)
            return answer

        for login, names in (("ada", ["engine", "notes", "loom"]), ("grace", ["cobol"])):
            answer = await ask(TOKENS[login])
            assert "errors" not in answer, answer
            hub_data = answer["data"]["hub"]  # type: ignore[index]
            assert hub_data["viewer"]["login"] == login
            assert [n["name"] for n in hub_data["repos"]["nodes"]][: len(names)] == names

        missing = await ask("")
        # each field that calls the upstream fails alone: its siblings would keep their data
        assert missing["data"] == {"hub": {"viewer": None, "repos": None}}
        codes = {e["extensions"]["code"] for e in missing["errors"]}  # type: ignore[attr-defined]
        assert codes == {"UNAUTHENTICATED"}
        assert "x-github-token" in str(missing["errors"])

        script = tmp_path / "ws.py"
        script.write_text(block("callers-ws").replace("127.0.0.1:8000", f"127.0.0.1:{server.port}"))
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, str(script)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={"CONNECTQL_KEY": key, "GITHUB_TOKEN": TOKENS["grace"], "PATH": ""},
        )
        assert done.returncode == 0, done.stderr
        assert "'login': 'grace'" in done.stdout

        assert {r.headers["Authorization"] for r in hub.requests} == {
            f"Bearer {TOKENS['ada']}",
            f"Bearer {TOKENS['grace']}",
        }
        assert all(key not in str(r.headers) for r in hub.requests)
    for token in TOKENS.values():
        assert token not in server.output
