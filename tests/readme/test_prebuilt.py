"""The README's prebuilt-connector config, served by `connectql serve` with the secrets in
its environment, each connector's "one query" answered by a faithful fake."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from connectql.testing import FakeUpstream
from connectql.testing.fakes.github import GitHubState, create_github_app
from connectql.testing.fakes.openai import DEFAULT_API_KEY, OpenAIState, create_openai_app
from connectql.testing.fakes.slack import BOT_TOKEN, SlackState, create_slack_app
from tests.processes import Processes
from tests.readme_blocks import README, block
from tests.support import execute

GITHUB_TOKEN = "ghp_readme0123456789abcdefghijklmnopq"


def one_queries() -> dict[str, str]:
    """The "one query" column of the README's prebuilt-connector table, by connector."""
    rows = re.findall(r"^\| `(\w+)` \|.*\| `(\{.*\})` \|$", README.read_text(), re.M)
    return dict(rows)


async def test_each_prebuilt_connector_from_the_readme_config(
    tmp_path: Path, processes: Processes
) -> None:
    config = yaml.safe_load(block("prebuilt-config"))
    slack = SlackState.seeded()
    general = slack.channel("general")
    assert general is not None
    async with (
        FakeUpstream(create_github_app(GitHubState.seeded(tokens={GITHUB_TOKEN}))) as github,
        FakeUpstream(create_slack_app(slack)) as slack_api,
        FakeUpstream(create_openai_app(OpenAIState())) as openai,
    ):
        # The README's entries as written; only the base URLs point at the fakes.
        base_urls = {
            "github": github.url,
            "slack": f"{slack_api.url}/api",
            "openai": f"{openai.url}/v1",
        }
        for entry in config["connectors"]:
            entry["config"]["base_url"] = base_urls[entry["builtin"]]
        (tmp_path / "connectql.yaml").write_text(yaml.safe_dump(config))
        env = {
            "GITHUB_TOKEN": GITHUB_TOKEN,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "OPENAI_API_KEY": DEFAULT_API_KEY,
        }
        server = await processes.serve(tmp_path, env=env).start()

        queries = one_queries()
        assert sorted(queries) == sorted(base_urls)
        for name, query in queries.items():
            result = await execute(server.url, query.replace("C123", general["id"]), key=None)
            assert result.errors is None, (name, result.errors)
            assert result.data[name], name
        for fake in (github, slack_api, openai):
            assert fake.requests, "every connector reached its fake"
        for secret in env.values():
            assert secret not in server.output
