"""connectql behind a real Apollo Gateway: two `connectql serve` processes (the tracker
connector, the chat connector), each a federation subgraph with its own API key and fake
upstream, composed with the reviews subgraph; queries spanning the three, upstream calls
counted; and `_entities` sent straight to one process.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from connectql.testing import FakeUpstream
from tests.fakes.chat import CHAT_TOKEN, ChatState, create_chat_app
from tests.fakes.tracker import TRACKER_TOKEN, TrackerData, create_tracker_app
from tests.federation.conftest import Gateways
from tests.federation.connectql import KEYS, serve_connector
from tests.federation.gateway import CACHE, SCRIPT, Subgraph
from tests.federation.reviews import ReviewsSubgraph
from tests.federation.test_gateway_harness import BY_LOGIN, TOP_REVIEWERS, _expected_top
from tests.npm import NPM_TIMEOUT
from tests.processes import Processes
from tests.readme_blocks import block
from tests.support import execute

ROOT = Path(__file__).parent.parent.parent
USERS = "/users"
EMAILS = "/users.lookupByEmails"

ISSUES_WITH_REVIEWS = """
query Issues($first: Int) {
  tracker {
    issues(owner: "acme", repo: "widgets", first: $first) {
      nodes {
        number
        author { login name reviews { stars authorProfile { realName title } } }
      }
    }
  }
}
"""
USER_WITH_REVIEWS = """
query User($login: String!) {
  tracker { user(login: $login) { name reviews { stars author { login name } } } }
}
"""
ENTITIES = """
query Entities($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on TrackerUser { login name email }
  }
}
"""


@dataclass
class Graph:
    tracker: FakeUpstream
    chat: FakeUpstream
    subgraphs: dict[str, Subgraph]
    """The gateway's subgraphs: reviews, tracker and chat."""


@pytest.fixture
async def graph(
    processes: Processes, tmp_path: Path, reviews: ReviewsSubgraph
) -> AsyncIterator[Graph]:
    async with (
        FakeUpstream(create_tracker_app()) as tracker,
        FakeUpstream(create_chat_app(ChatState.seeded())) as chat,
    ):
        tracker_process = await serve_connector(
            processes, tmp_path / "tracker", "tracker", tracker, TRACKER_TOKEN
        )
        chat_process = await serve_connector(processes, tmp_path / "chat", "chat", chat, CHAT_TOKEN)
        subgraphs = {
            "reviews": Subgraph(reviews.url),
            **{
                name: Subgraph(
                    f"{process.url}/graphql", headers={"Authorization": f"Bearer {KEYS[name]}"}
                )
                for name, process in (("tracker", tracker_process), ("chat", chat_process))
            },
        }
        yield Graph(tracker, chat, subgraphs)
        for process in (tracker_process, chat_process):
            assert TRACKER_TOKEN not in process.output
            assert CHAT_TOKEN not in process.output


def _calls(upstream: FakeUpstream) -> list[str]:
    return [request.path for request in upstream.requests]


async def test_the_gateway_composes_connectql_and_answers_across_three_subgraphs(
    gateway: Gateways, graph: Graph, reviews: ReviewsSubgraph
) -> None:
    process = await gateway.start(graph.subgraphs)
    [composition] = process.compositions
    assert composition["subgraphs"] == ["reviews", "tracker", "chat"]
    assert composition["errors"] == []
    assert composition["hints"] == []
    graph.tracker.reset()
    graph.chat.reset()
    reviews.recorder.reset()

    # reviews → tracker (_entities: 3 TrackerUser) → chat (_entities: a ChatProfile per
    # review, 21 of 3 people): one multi-get per connector, each email asked for once.
    answer = await execute(process.url, TOP_REVIEWERS, {"first": 3}, key=None)
    assert answer.errors is None, answer.errors
    assert answer.data == {"topReviewers": _expected_top(reviews.data, 3)}
    assert _calls(graph.tracker) == [USERS]
    assert _calls(graph.chat) == [EMAILS]
    [asked] = graph.chat.requests
    emails = asked.query["emails"].split(",")
    top = reviews.data.top_reviewers(3)
    assert sorted(emails) == sorted(BY_LOGIN[login].email for login in top)

    # tracker (a page of issues, their authors in one multi-get) → reviews → chat.
    graph.tracker.reset()
    graph.chat.reset()
    reviews.recorder.reset()
    answer = await execute(process.url, ISSUES_WITH_REVIEWS, {"first": 10}, key=None)
    assert answer.errors is None, answer.errors
    data = TrackerData()
    expected = []
    for number in range(data.issues, data.issues - 10, -1):
        person = data.author_of(number)
        profile = {"realName": person.name, "title": person.title}
        expected.append(
            {
                "number": number,
                "author": {
                    "login": person.login,
                    "name": person.name,
                    "reviews": [
                        {"stars": r.stars, "authorProfile": profile}
                        for r in reviews.data.of(person.login)
                    ],
                },
            }
        )
    assert answer.data == {"tracker": {"issues": {"nodes": expected}}}
    assert _calls(graph.tracker) == ["/repos/acme/widgets/issues", USERS]
    assert [len(op.representations or ()) for op in reviews.recorder.entity_calls] == [10]
    assert _calls(graph.chat) == [EMAILS]

    # reviews' references back into tracker: one representation, one multi-get.
    graph.tracker.reset()
    answer = await execute(process.url, USER_WITH_REVIEWS, {"login": "grace-hopper"}, key=None)
    assert answer.errors is None, answer.errors
    grace = BY_LOGIN["grace-hopper"]
    assert answer.data == {
        "tracker": {
            "user": {
                "name": grace.name,
                "reviews": [
                    {"stars": r.stars, "author": {"login": grace.login, "name": grace.name}}
                    for r in reviews.data.of(grace.login)
                ],
            }
        }
    }
    # Two fetches of the query plan reach tracker: user(login:), then (after reviews) the
    # authors' names through _entities, one multi-get for the page of reviews' authors.
    assert _calls(graph.tracker) == [USERS, USERS]
    assert [r.query["logins"] for r in graph.tracker.requests] == [grace.login, grace.login]


async def test_composition_with_connectql_is_timed(gateway: Gateways, graph: Graph) -> None:
    composition = await gateway.compose(graph.subgraphs, repeat=5)
    print(composition.summary())  # the measurement (-s shows it)
    assert composition.errors == []
    assert composition.hints == []
    assert composition.supergraph_sdl is not None
    supergraph = composition.supergraph_sdl
    assert "type TrackerUser" in supergraph
    assert "type ChatProfile" in supergraph
    # The control plane of either process stays out of the supergraph.
    for name in ("createConnector", "connectors", "connectorNames", "_service", "_entities"):
        assert f" {name}(" not in supergraph, name
        assert f" {name}:" not in supergraph, name


async def test_entities_straight_to_connectql_cost_one_multi_get(
    processes: Processes, tmp_path: Path
) -> None:
    data = TrackerData(authors=100)
    async with FakeUpstream(create_tracker_app(data)) as tracker:
        process = await serve_connector(processes, tmp_path, "tracker", tracker, TRACKER_TOKEN)
        people = data.people()
        representations = [{"__typename": "TrackerUser", "login": p.login} for p in people]
        answer = await execute(
            process.url, ENTITIES, {"representations": representations}, key=KEYS["tracker"]
        )
        assert answer.errors is None, answer.errors
        assert answer.data["_entities"] == [
            {"__typename": "TrackerUser", "login": p.login, "name": p.name, "email": p.email}
            for p in people
        ]
        assert _calls(tracker) == [USERS]
        assert len(tracker.requests[0].query["logins"].split(",")) == 100

        # As a gateway sends them: one per reference, repeated; unknown ones are null, and a
        # representation that cannot be looked up fails alone.
        tracker.reset()
        mixed: list[Any] = [
            *({"__typename": "TrackerUser", "login": people[i % 3].login} for i in range(60)),
            {"__typename": "TrackerUser", "login": "nobody-here"},
            {"__typename": "TrackerUser"},
            {"__typename": "TrackerIssue", "number": 1},
            {"__typename": "TrackerUser", "login": people[0].login},
        ]
        answer = await execute(
            process.url, ENTITIES, {"representations": mixed}, key=KEYS["tracker"]
        )
        entities = answer.data["_entities"]
        assert [e and e["login"] for e in entities[:60]] == [people[i % 3].login for i in range(60)]
        assert entities[60:63] == [None, None, None]
        assert entities[63]["login"] == people[0].login
        errors = {tuple(e["path"]): e for e in answer.errors}
        assert set(errors) == {("_entities", 61), ("_entities", 62)}
        assert errors["_entities", 61]["extensions"]["code"] == "BAD_USER_INPUT"
        assert "needs its key field(s) login" in errors["_entities", 61]["message"]
        assert errors["_entities", 62]["extensions"]["code"] == "BAD_USER_INPUT"
        assert "'TrackerIssue' is not an entity here" in errors["_entities", 62]["message"]
        [call] = tracker.requests
        assert call.path == USERS
        assert sorted(call.query["logins"].split(",")) == sorted(
            [p.login for p in people[:3]] + ["nobody-here"]
        )
        assert json.dumps(answer.errors).count(TRACKER_TOKEN) == 0


async def test_the_readme_gateway_block(
    gateway: Gateways, graph: Graph, reviews: ReviewsSubgraph
) -> None:
    """The README's commands and GATEWAY_SUBGRAPHS, with the URLs of this test's processes
    (the API keys are the ones these processes take) and the port the gateway picks."""
    install, *_, run = [line for line in block("federation-gateway").splitlines() if line]
    assert install.startswith("python -m tests.federation.gateway")
    done = subprocess.run(
        [sys.executable, "-m", "tests.federation.gateway"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=NPM_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("gateway ready in ")

    found = re.search(r"GATEWAY_SUBGRAPHS='(.*?)'", block("federation-gateway"), re.S)
    assert found is not None
    written = json.loads(found[1])
    urls = {name: graph.subgraphs[name].url for name in ("reviews", "tracker", "chat")}
    assert set(written) == set(urls)
    subgraphs: dict[str, Subgraph] = {}
    for name, entry in written.items():
        entry = {"url": entry} if isinstance(entry, str) else entry
        assert entry["url"].startswith("http://127.0.0.1:")
        subgraphs[name] = Subgraph(urls[name], headers=entry.get("headers", {}))
        assert subgraphs[name].headers == graph.subgraphs[name].headers

    command = shlex.split(run)
    assert command[:4] == ["node", "tests/federation/gateway.mjs", "serve", "--port"]
    process = gateway.new(subgraphs)
    process.command = ["node", str(SCRIPT), "serve", "--port", "0", "--modules", str(CACHE)]
    await process.start()
    [composition] = process.compositions
    assert (composition["errors"], composition["hints"]) == ([], [])
    answer = await execute(process.url, TOP_REVIEWERS, {"first": 2}, key=None)
    assert answer.errors is None, answer.errors
    assert answer.data == {"topReviewers": _expected_top(reviews.data, 2)}
