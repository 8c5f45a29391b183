"""The README's prebuilt-connector config, served by `connectql serve` with the secrets in
its environment, each connector's "one query" answered by a faithful fake; and the Gemini
examples under the table."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import yaml
from gql import Client, gql

from connectql.connectors.builtin import builtin_spec
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec
from connectql.testing import FakeUpstream
from connectql.testing.fakes import google_genai, openai, openrouter
from connectql.testing.fakes.github import GitHubState, create_github_app
from connectql.testing.fakes.google_cloud import (
    DEFAULT_PROJECT,
    GoogleCloudState,
    create_google_cloud_app,
    google_cloud_config,
)
from connectql.testing.fakes.salesforce import (
    CLIENT_ID,
    USERNAME,
    SalesforceState,
    create_salesforce_app,
)
from connectql.testing.fakes.slack import BOT_TOKEN, SlackState, create_slack_app
from tests.connectors.builtin import aws_support
from tests.connectors.builtin import test_aws_dynamodb as dynamodb_tests
from tests.connectors.builtin import test_aws_lambda as lambda_tests
from tests.connectors.builtin import test_aws_s3 as s3_tests
from tests.processes import Processes
from tests.readme_blocks import README, block
from tests.support import execute, serving, ws_transport

GITHUB_TOKEN = "ghp_readme0123456789abcdefghijklmnopq"
HTTP_FAKES = (
    "github",
    "slack",
    "openai",
    "openrouter",
    "google_genai",
    "google_cloud",
    "salesforce",
)
AWS = ("aws_s3", "aws_dynamodb", "aws_lambda")
"""Served by a test of their own: moto's server and its seeding take a while."""


def one_queries() -> dict[str, str]:
    """The "one query" column of the README's prebuilt-connector table, by connector."""
    rows = re.findall(r"^\| `(\w+)` \|.*\| `(\{.*\})` \|$", README.read_text(), re.M)
    return dict(rows)


def readme_entries(*names: str) -> list[dict[str, Any]]:
    """The README's `connectql.yaml` entries of the connectors `names`, as written."""
    entries = yaml.safe_load(block("prebuilt-config"))["connectors"]
    chosen = [entry for entry in entries if entry["builtin"] in names]
    assert sorted(entry["builtin"] for entry in chosen) == sorted(names)
    return chosen


async def serve_and_ask(
    tmp_path: Path,
    processes: Processes,
    entries: list[dict[str, Any]],
    env: dict[str, str],
    replace: dict[str, str] | None = None,
) -> None:
    """Serve `entries` with `env` and check every one's "one query" has data, no errors."""
    (tmp_path / "connectql.yaml").write_text(yaml.safe_dump({"connectors": entries}))
    server = await processes.serve(tmp_path, env=env).start()
    queries = one_queries()
    for name in (entry["builtin"] for entry in entries):
        query = queries[name]
        for written, actual in (replace or {}).items():
            query = query.replace(written, actual)
        result = await execute(server.url, query, key=None)
        assert result.errors is None, (name, result.errors)
        assert result.data[name], name
    for secret in env.values():
        assert secret not in server.output


def test_every_row_has_an_entry_and_a_test() -> None:
    entries = yaml.safe_load(block("prebuilt-config"))["connectors"]
    named = sorted(entry["builtin"] for entry in entries)
    assert sorted(one_queries()) == named
    assert sorted([*HTTP_FAKES, *AWS]) == named


async def test_each_http_prebuilt_connector_from_the_readme_config(
    tmp_path: Path, processes: Processes
) -> None:
    entries = readme_entries(*HTTP_FAKES)
    slack = SlackState.seeded()
    general = slack.channel("general")
    assert general is not None
    google_state = GoogleCloudState()
    salesforce_state = SalesforceState.seeded()
    async with (
        FakeUpstream(create_github_app(GitHubState.seeded(tokens={GITHUB_TOKEN}))) as github,
        FakeUpstream(create_slack_app(slack)) as slack_api,
        FakeUpstream(openai.create_openai_app(openai.OpenAIState())) as openai_api,
        FakeUpstream(openrouter.create_openrouter_app(openrouter.OpenRouterState())) as router,
        FakeUpstream(google_genai.create_genai_app(google_genai.GenAIState())) as gemini,
        FakeUpstream(create_google_cloud_app(google_state)) as google,
        FakeUpstream(create_salesforce_app(salesforce_state)) as salesforce,
    ):
        # The README's entries as written; only the base URLs point at the fakes.
        base_urls = {
            "github": {"base_url": github.url},
            "slack": {"base_url": f"{slack_api.url}/api"},
            "openai": {"base_url": f"{openai_api.url}/v1"},
            "openrouter": {"base_url": f"{router.url}/api/v1"},
            "google_genai": {"base_url": f"{gemini.url}/v1beta"},
            "google_cloud": {  # its three APIs' hosts
                key: url for key, url in google_cloud_config(google.url).items() if "_url" in key
            },
            "salesforce": {"login_url": salesforce.url},
        }
        for entry in entries:
            entry["config"].update(base_urls[entry["builtin"]])
        key_file = tmp_path / "service-account.json"
        key_file.write_text(google_state.service_account_json(f"{google.url}/token"))
        env = {
            "GITHUB_TOKEN": GITHUB_TOKEN,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "OPENAI_API_KEY": openai.DEFAULT_API_KEY,
            "OPENROUTER_API_KEY": openrouter.DEFAULT_API_KEY,
            "GEMINI_API_KEY": google_genai.DEFAULT_API_KEY,
            "GOOGLE_APPLICATION_CREDENTIALS": str(key_file),
            "GOOGLE_CLOUD_PROJECT": DEFAULT_PROJECT,
            "SF_CLIENT_ID": CLIENT_ID,
            "SF_USERNAME": USERNAME,
            "SF_PRIVATE_KEY": salesforce_state.private_key_pem,
        }
        # The Slack row names a channel id; the fake makes its own.
        await serve_and_ask(tmp_path, processes, entries, env, {"C123": general["id"]})
        fakes = (github, slack_api, openai_api, router, gemini, google, salesforce)
        for fake in fakes:
            assert fake.requests, "every connector reached its fake"
    assert google_state.violations == []
    assert google_state.tokens, "google_cloud signed in with the service account's key"
    assert salesforce_state.violations == []


def seed_aws(moto: str) -> None:
    """What the AWS rows read: the bucket `reports`, the table `events`, some functions."""
    s3_tests.seed(moto)
    aws_support.client("s3", moto).put_object(Bucket="reports", Key="2026/q1.csv", Body=b"q,1")
    dynamodb_tests.seed(moto)
    lambda_tests.seed(moto)


async def test_each_aws_prebuilt_connector_from_the_readme_config(
    tmp_path: Path, processes: Processes
) -> None:
    async with aws_support.aws(seed_aws) as front:
        env = {  # the standard AWS variables, the endpoint among them
            "AWS_ACCESS_KEY_ID": aws_support.ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": aws_support.SECRET_KEY,
            "AWS_REGION": aws_support.REGION,
            "AWS_ENDPOINT_URL": front.url,
        }
        await serve_and_ask(tmp_path, processes, readme_entries(*AWS), env)
        assert front.requests


# --- the Gemini examples under the table ------------------------------------------------------


async def test_the_gemini_examples() -> None:
    state = google_genai.GenAIState()
    async with FakeUpstream(google_genai.create_genai_app(state)) as fake:
        runtime = Runtime()
        config = {"base_url": f"{fake.url}/v1beta", "api_key": google_genai.DEFAULT_API_KEY}
        runtime.add(load_spec(builtin_spec("google_genai")), config)
        async with serving(runtime) as url:
            generated = await execute(url, block("genai-generate"))
            started = await execute(
                url, 'mutation { google_genai { generateVideo(prompt: "a cat surfing") { name } } }'
            )
            assert started.errors is None, started.errors
            name = started.data["google_genai"]["generateVideo"]["name"]
            progress = block("genai-video-progress")
            progress = progress.replace("models/veo-3.0-generate-001/operations/OPERATION", name)
            document = gql(progress.replace("intervalMs: 10000", "intervalMs: 100"))
            events = []
            async with asyncio.timeout(30), Client(transport=ws_transport(url)) as session:
                async for event in session.subscribe(document):
                    events.append(event["google_genai_videoProgress"])
    assert generated.errors is None, generated.errors
    assert generated.data["google_genai"]["generateContent"]["text"]
    assert [e["done"] for e in events][-1] is True
    assert events[-1]["videos"]
    assert state.violations == []
