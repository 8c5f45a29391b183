"""The README's joins: the config and query through `connectql serve --config`, the error
it stops with, createLink and the `connectql links` commands."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from connectql.testing import FakeUpstream
from tests.fakes.chat import CHAT_TOKEN, ChatState, create_chat_app
from tests.fakes.tracker import TRACKER_TOKEN, TrackerData, create_tracker_app
from tests.processes import Processes, run_cli
from tests.readme.test_quickstart import bash
from tests.readme_blocks import block
from tests.support import execute

DATA = Path(__file__).parent.parent / "fakes" / "data"
ENV = {"TRACKER_TOKEN": TRACKER_TOKEN, "CHAT_TOKEN": CHAT_TOKEN}


@pytest.fixture
async def tracker() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(create_tracker_app(TrackerData())) as upstream:
        yield upstream


@pytest.fixture
async def chat() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(create_chat_app(ChatState.seeded())) as upstream:
        yield upstream


def setup(directory: Path, tracker: FakeUpstream, chat: FakeUpstream, *, links: bool) -> Path:
    """The README's connectql.yaml and its two specs in `directory`, aimed at the fakes."""
    specs = directory / "specs"
    specs.mkdir(exist_ok=True)
    shutil.copy(DATA / "tracker.yaml", specs / "tracker.yaml")
    shutil.copy(DATA / "chat.yaml", specs / "chat.yaml")
    text = (
        block("joins-config")
        .replace("https://tracker.example.com/api", tracker.url)
        .replace("https://chat.example.com/api", chat.url)
    )
    if not links:
        config = yaml.safe_load(text)
        del config["links"]
        text = yaml.safe_dump(config, sort_keys=False)
    file = directory / "connectql.yaml"
    file.write_text(text)
    return file


async def test_the_joins_config_serves_the_query_in_three_upstream_calls(
    tmp_path: Path, tracker: FakeUpstream, chat: FakeUpstream, processes: Processes
) -> None:
    setup(tmp_path, tracker, chat, links=True)
    server = await processes.serve(tmp_path, "--config", "connectql.yaml", env=ENV).start()
    result = await execute(server.url, block("joins-query"), key=None)
    assert result.errors is None, result.errors
    nodes = result.data["tracker"]["issues"]["nodes"]
    assert len(nodes) == 50
    assert len({n["author"]["login"] for n in nodes}) == 8
    assert all(n["author"]["chat"]["realName"] for n in nodes)
    assert tracker.count("GET", "/repos/acme/widgets/issues") == 1
    assert tracker.count("GET", "/users") == 1
    assert chat.count("GET", "/users.lookupByEmails") == 1
    assert len(chat.requests[-1].query["emails"].split(",")) == 8
    assert CHAT_TOKEN not in server.output
    assert TRACKER_TOKEN not in server.output


async def test_a_wrong_link_stops_serve_with_the_readme_error(
    tmp_path: Path, tracker: FakeUpstream, chat: FakeUpstream
) -> None:
    file = setup(tmp_path, tracker, chat, links=True)
    file.write_text(
        file.read_text().replace("operation: profileByEmail", "operation: profileByMail")
    )
    done = run_cli("serve", "--config", "connectql.yaml", cwd=tmp_path, env=ENV, timeout=60)
    assert done.returncode != 0
    assert block("joins-error").strip() in done.stderr


async def test_create_link_and_the_links_commands(
    tmp_path: Path, tracker: FakeUpstream, chat: FakeUpstream, processes: Processes
) -> None:
    setup(tmp_path, tracker, chat, links=False)
    server = await processes.serve(tmp_path, "--config", "connectql.yaml", env=ENV).start()
    admin = (tmp_path / "connectql.admin-key").read_text().strip()
    made = await execute(server.url, block("create-link-mutation"), key=admin)
    assert made.errors is None, made.errors
    assert made.data == {"createLink": {"applied": True, "link": {"state": "ACTIVE"}}}
    joined = await execute(server.url, block("joins-query"), key=None)
    assert joined.errors is None, joined.errors
    removed = await execute(
        server.url,
        'mutation { deleteLink(type: "TrackerUser", field: "chat", force: true) { applied } }',
        key=admin,
    )
    assert removed.data == {"deleteLink": {"applied": True}}

    env = {"CONNECTQL_URL": server.url, "CONNECTQL_API_KEY": admin}
    create, listing, delete = block("links-cli").strip().splitlines()
    assert bash(create, tmp_path, env).startswith("created TrackerUser.chat")
    header, row = bash(listing, tmp_path, env).splitlines()
    assert header.split() == ["FIELD", "RESOLVED", "BY", "SOURCE", "STATE", "REASON"]
    assert row.split() == ["TrackerUser.chat", "chat.profileByEmail", "registry", "active", "-"]
    assert (await execute(server.url, block("joins-query"), key=None)).errors is None
    assert bash(delete, tmp_path, env).startswith("deleted TrackerUser.chat")
    assert len(bash(listing, tmp_path, env).splitlines()) == 1  # the header alone
