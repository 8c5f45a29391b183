"""Joins across connectors: a tracker user's chat profile, batched like a local link."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from connectql.graph.joins import Link
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec
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
