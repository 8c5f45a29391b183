"""Joins across connectors: a tracker user's chat profile, batched like a local link."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectql.config import load_config
from connectql.errors import ConfigError
from connectql.graph.joins import ACTIVE, Link
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec, load_spec_text
from connectql.testing import FakeUpstream
from tests.fakes.chat import CHAT_TOKEN, ChatState, create_chat_app
from tests.fakes.tracker import TRACKER_TOKEN, TrackerData, create_tracker_app
from tests.support import execute, serving

DATA = Path(__file__).parent.parent / "fakes" / "data"
TRACKER_SPEC, CHAT_SPEC = DATA / "tracker.yaml", DATA / "chat.yaml"
CHAT_LINK = Link(
    type="TrackerUser",
    field="chat",
    connector="chat",
    operation="profileByEmail",
    args={"email": "{parent.email}"},
    description="The user's chat profile.",
)
ISSUES_WITH_CHAT = """
{ tracker { issues(owner: "acme", repo: "widgets", first: 50) {
    nodes { title author { login chat { realName title } } } } } }
"""


@pytest.fixture
async def tracker() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(create_tracker_app(TrackerData())) as upstream:
        yield upstream


@pytest.fixture
async def chat() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(create_chat_app(ChatState.seeded())) as upstream:
        yield upstream


def joined_runtime(tracker: FakeUpstream, chat: FakeUpstream, *links: Link) -> Runtime:
    runtime = Runtime()
    specs = [
        (load_spec(TRACKER_SPEC), {"base_url": tracker.url, "token": TRACKER_TOKEN}),
        (load_spec(CHAT_SPEC), {"base_url": chat.url, "token": CHAT_TOKEN}),
    ]
    runtime.apply(runtime.prepare(specs, links=links or [CHAT_LINK]))
    return runtime


async def test_a_page_of_issues_joins_authors_to_chat_profiles_in_three_calls(
    tracker: FakeUpstream, chat: FakeUpstream
) -> None:
    runtime = joined_runtime(tracker, chat)
    async with serving(runtime) as url:
        result = await execute(url, ISSUES_WITH_CHAT)
    assert result.errors is None, result.errors
    nodes = result.data["tracker"]["issues"]["nodes"]
    assert len(nodes) == 50
    authors = {n["author"]["login"]: n["author"]["chat"] for n in nodes}
    assert len(authors) == 8
    assert all(profile and profile["realName"] and profile["title"] for profile in authors.values())
    assert tracker.count("GET", "/repos/acme/widgets/issues") == 1
    assert tracker.count("GET", "/users") == 1
    assert chat.count("GET", "/users.lookupByEmails") == 1
    assert chat.count("GET", "/users.lookupByEmail") == 0
    asked = chat.requests[-1].query["emails"].split(",")
    assert len(asked) == len(set(asked)) == 8  # equal keys once


async def test_a_paginated_target_is_a_relay_connection_with_its_other_arguments(
    tracker: FakeUpstream, chat: FakeUpstream
) -> None:
    issues = Link(
        type="ChatProfile",
        field="issues",
        connector="tracker",
        operation="issues",
        args={"owner": "acme", "repo": "widgets"},
    )
    runtime = joined_runtime(tracker, chat, issues)
    field = runtime.schema.graphql_schema.get_type("ChatProfile").fields["issues"]  # type: ignore[union-attr]
    assert sorted(field.args) == ["after", "first", "state"]
    assert str(field.type) == "TrackerIssueConnection"
    query = """{ chat { profileByEmail(email: "ada-lovelace@acme.test") {
        realName issues(first: 2, state: CLOSED) { nodes { number state } pageInfo { hasNextPage } }
    } } }"""
    async with serving(runtime) as url:
        result = await execute(url, query)
    assert result.errors is None, result.errors
    page = result.data["chat"]["profileByEmail"]["issues"]
    assert page == {
        "nodes": [{"number": 50, "state": "CLOSED"}, {"number": 45, "state": "CLOSED"}],
        "pageInfo": {"hasNextPage": True},
    }


async def test_parent_fields_are_read_through_their_from_paths(
    tracker: FakeUpstream, chat: FakeUpstream
) -> None:
    # Issue.authorLogin is `from: user.login`; the chat profile is found by email, so join
    # the other way round too: ChatProfile.email is `from: profile.email`.
    author = Link(
        type="TrackerIssue",
        field="byLogin",
        connector="tracker",
        operation="user",
        args={"login": "{parent.authorLogin}"},
    )
    back = Link(
        type="ChatProfile",
        field="again",
        connector="chat",
        operation="profileByEmail",
        args={"email": "{parent.email}"},
    )
    runtime = joined_runtime(tracker, chat, author, back, CHAT_LINK)
    assert [s.state for s in runtime.joins.statuses] == [ACTIVE] * 3
    query = """{ tracker { issues(owner: "acme", repo: "widgets", first: 3) { nodes {
        byLogin { login chat { again { email } } } } } } }"""
    async with serving(runtime) as url:
        result = await execute(url, query)
    assert result.errors is None, result.errors
    nodes = result.data["tracker"]["issues"]["nodes"]
    assert [n["byLogin"]["chat"]["again"]["email"] for n in nodes] == [
        f"{n['byLogin']['login']}@acme.test" for n in nodes
    ]
    # the profiles' own emails again: the request's loader has them already
    assert chat.count("GET", "/users.lookupByEmails") == 1
    assert tracker.count("GET", "/users") == 1


@pytest.mark.parametrize(
    ("args", "raw"),
    [
        pytest.param({"x": "{parent.email}"}, {"x": "{parent.email}"}, id="own-name"),
        pytest.param({"x": "{parent.login}"}, {"x": "{parent.user.login}"}, id="from-path"),
        pytest.param(
            {"x": "{parent.owner.login}"}, {"x": "{parent.repo.owner.login}"}, id="deeper"
        ),
        pytest.param({"x": "{parent.first}"}, {"x": "{parent.names[0]}"}, id="index"),
        pytest.param(
            {"x": "id {parent.login} {{literal}}"},
            {"x": "id {parent.user.login} {{literal}}"},
            id="inside-text",
        ),
        pytest.param({"x": ["{parent.whole}", 3]}, {"x": ["{parent}", 3]}, id="whole-and-literal"),
    ],
)
def test_parent_placeholders_become_raw_paths(args: dict[str, Any], raw: dict[str, Any]) -> None:
    from connectql.graph.joins import raw_args
    from connectql.spec.models import ObjectType

    parent = ObjectType.model_validate(
        {
            "fields": {
                "email": {"type": "String"},
                "login": {"type": "String", "from": "user.login"},
                "owner": {"type": "JSON", "from": "repo.owner"},
                "first": {"type": "String", "from": "names[0]"},
                "whole": {"type": "JSON", "from": "."},
            }
        }
    )
    link = Link(type="T", field="f", connector="c", operation="o", args=args)
    assert raw_args(link, parent) == raw


# --- links in connectql.yaml ------------------------------------------------------------------


def write_config(path: Path, tracker: str, chat: str, links: list[dict[str, Any]]) -> Path:
    config = {
        "connectors": [
            {"spec": str(TRACKER_SPEC), "config": {"base_url": tracker, "token": "{env.TT}"}},
            {"spec": str(CHAT_SPEC), "config": {"base_url": chat, "token": "{env.CT}"}},
        ],
        "links": links,
    }
    file = path / "connectql.yaml"
    file.write_text(yaml.safe_dump(config, sort_keys=False))
    return file


LINK_YAML = {
    "type": "TrackerUser",
    "field": "chat",
    "connector": "chat",
    "operation": "profileByEmail",
    "args": {"email": "{parent.email}"},
}
ENV = {"TT": TRACKER_TOKEN, "CT": CHAT_TOKEN}


async def test_config_links_are_served(
    tmp_path: Path, tracker: FakeUpstream, chat: FakeUpstream
) -> None:
    config = load_config(write_config(tmp_path, tracker.url, chat.url, [LINK_YAML]), ENV)
    runtime = Runtime.from_config(config)
    assert runtime.links == [Link(**LINK_YAML)]
    async with serving(runtime) as url:
        result = await execute(url, ISSUES_WITH_CHAT)
    assert result.errors is None, result.errors
    assert chat.count("GET", "/users.lookupByEmails") == 1


CONFIG = """\
connectors:
  - spec: TRACKER
    config: {base_url: "http://127.0.0.1:1", token: "{env.TT}"}
  - spec: CHAT
    config: {base_url: "http://127.0.0.1:2", token: "{env.CT}"}
links:
  - type: TrackerUser
    field: chat
    connector: chat
    operation: profileByEmail
    args:
      email: "{parent.email}"
"""


def config_text(path: Path, text: str) -> Path:
    file = path / "connectql.yaml"
    file.write_text(text.replace("TRACKER", str(TRACKER_SPEC)).replace("CHAT", str(CHAT_SPEC)))
    return file


@pytest.mark.parametrize(
    ("old", "new", "where", "message"),
    [
        pytest.param(
            "operation: profileByEmail",
            "operation: profileByMail",
            "10:5 links[0].operation",
            "chat has no operation profileByMail (did you mean profileByEmail?)",
            id="operation",
        ),
        pytest.param(
            "type: TrackerUser",
            "type: TrackerPerson",
            "7:5 links[0].type",
            "no connector type is named TrackerPerson",
            id="type",
        ),
        pytest.param(
            "field: chat",
            "field: login",
            "8:5 links[0].field",
            "TrackerUser already has a field login",
            id="field",
        ),
        pytest.param(
            "connector: chat",
            "connector: slack",
            "9:5 links[0].connector",
            "no connector named slack",
            id="connector",
        ),
        pytest.param(
            "{parent.email}",
            "{parent.mail}",
            "12:7 links[0].args.email",
            "TrackerUser has no field mail (did you mean email?)",
            id="parent-field",
        ),
        pytest.param(
            "      email:",
            "      emails:",
            "12:7 links[0].args.emails",
            "profileByEmail has no argument emails (did you mean email?)",
            id="argument",
        ),
        pytest.param(
            '    args:\n      email: "{parent.email}"\n',
            "    args: {}\n",
            "11:5 links[0].args",
            "profileByEmail needs the argument email",
            id="required-argument",
        ),
    ],
)
def test_a_wrong_config_link_is_an_error_at_its_file_line_and_key(
    tmp_path: Path, old: str, new: str, where: str, message: str
) -> None:
    assert old in CONFIG
    file = config_text(tmp_path, CONFIG.replace(old, new))
    config = load_config(file, ENV)
    with pytest.raises(ConfigError) as caught:
        Runtime.from_config(config)
    assert str(caught.value).startswith(f"{file}:{where}: {message}")


def test_a_config_link_missing_a_key_is_an_error_at_its_line(tmp_path: Path) -> None:
    file = config_text(tmp_path, CONFIG.replace("    operation: profileByEmail\n", ""))
    with pytest.raises(ConfigError) as caught:
        load_config(file, ENV)
    assert str(caught.value) == f"{file}:7:5 links[0].operation: Field required"


def test_connectql_serve_fails_fast_on_a_wrong_link(tmp_path: Path) -> None:
    from tests.processes import run_cli

    file = config_text(tmp_path, CONFIG.replace("profileByEmail", "profileByMail"))
    done = run_cli("serve", "--config", "connectql.yaml", cwd=tmp_path, env=ENV, timeout=60)
    assert done.returncode != 0
    expected = "connectql.yaml:10:5 links[0].operation: chat has no operation profileByMail"
    assert expected in done.stderr
    assert CHAT_TOKEN not in done.stderr + done.stdout
    assert file.exists()


async def test_a_root_mounted_target_joins_the_same_way(
    tracker: FakeUpstream, chat: FakeUpstream
) -> None:
    raw = yaml.safe_load(CHAT_SPEC.read_text())
    raw["connector"]["namespace"] = False  # its operations at the roots (shape controls)
    runtime = Runtime()
    specs = [
        (load_spec(TRACKER_SPEC), {"base_url": tracker.url, "token": TRACKER_TOKEN}),
        (
            load_spec_text(yaml.safe_dump(raw), "chat.yaml"),
            {"base_url": chat.url, "token": CHAT_TOKEN},
        ),
    ]
    runtime.apply(runtime.prepare(specs, links=[CHAT_LINK]))
    async with serving(runtime) as url:
        result = await execute(url, ISSUES_WITH_CHAT)
    assert result.errors is None, result.errors
    assert chat.count("GET", "/users.lookupByEmails") == 1
    # stopped: the root field goes, the join field stays typed by the last known spec
    plan = runtime.prepare(specs[:1])
    assert "Field Query.profileByEmail was removed." in {c.description for c in plan.breaking}
    assert "JOIN_TARGET_UNAVAILABLE" in {c.type for c in plan.breaking}
