"""The federation harness proves itself: a real @apollo/gateway (pinned, in node) composes the
reviews subgraph with a strawberry stand-in for connectql and answers queries that span them,
over HTTP with gql; composition errors and hints reach the test; failures stop the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
import strawberry

from tests.fakes.tracker import TrackerData
from tests.federation import conftest
from tests.federation import gateway as gateway_module
from tests.federation.conftest import Gateways
from tests.federation.gateway import LOCKFILE, PINS, GatewayProcess, Subgraph
from tests.federation.reviews import ReviewsData, ReviewsSubgraph
from tests.federation.standin import OWNED, StandIn, serving_standin
from tests.federation.subgraph import Recorder, recording, serving_subgraph
from tests.processes import free_port
from tests.support import eventually, execute

PEOPLE = TrackerData().people()
BY_LOGIN = {p.login: p for p in PEOPLE}

TOP_REVIEWERS = """
query Top($first: Int) {
  topReviewers(first: $first) {
    login
    name
    email
    reviews { stars text authorProfile { email realName title } }
  }
}
"""
USER_WITH_REVIEWS = """
query User($login: ID!) {
  trackerUser(login: $login) { name reviews { stars author { login name } } }
}
"""


def _expected_top(data: ReviewsData, first: int) -> list[dict[str, Any]]:
    result = []
    for login in data.top_reviewers(first):
        person = BY_LOGIN[login]
        profile = {"email": person.email, "realName": person.name, "title": person.title}
        result.append(
            {
                "login": login,
                "name": person.name,
                "email": person.email,
                "reviews": [
                    {"stars": r.stars, "text": r.text, "authorProfile": profile}
                    for r in data.of(login)
                ],
            }
        )
    return result


def _owner(standins: Mapping[str, StandIn], typename: str) -> StandIn:
    return next(s for s in standins.values() if typename in s.owns)


def _entity_calls(recorder: Recorder, typename: str) -> list[int]:
    """Representations per `_entities` call for `typename`."""
    return [op.typenames[typename] for op in recorder.entity_calls if op.typenames[typename]]


TOPOLOGIES = [
    # The harness's minimum: one stand-in owning both entities.
    pytest.param({"standin": OWNED}, id="one-standin-owns-both"),
    # connectql's shape in the real proof: tracker and chat served by two processes, each
    # with its own API key.
    pytest.param(
        {"tracker": ("TrackerUser",), "chat": ("ChatProfile",)}, id="tracker-and-chat-apart"
    ),
]


@pytest.mark.parametrize("owners", TOPOLOGIES)
async def test_gateway_answers_across_subgraphs(
    gateway: Gateways, reviews: ReviewsSubgraph, owners: Mapping[str, Sequence[str]]
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        standins = {
            name: await stack.enter_async_context(serving_standin(owns, key=f"{name}-key"))
            for name, owns in owners.items()
        }
        process = await gateway.start(
            {
                "reviews": Subgraph(reviews.url, forward=("x-caller",)),
                **{
                    name: Subgraph(s.url, headers={"Authorization": f"Bearer {name}-key"})
                    for name, s in standins.items()
                },
            }
        )
        [composition] = process.compositions
        assert composition["subgraphs"] == ["reviews", *owners]
        assert composition["errors"] == []
        assert composition["hints"] == []
        assert process.last("schema") == {
            "event": "schema",
            "supergraph_sha256": composition["supergraph_sha256"],
        }
        # Introspection carried each stand-in's key (the stand-ins refuse requests without).
        for name, standin in standins.items():
            assert [op.root_fields for op in standin.recorder.operations] == [("_service",)]
            assert standin.recorder.operations[0].headers["authorization"] == f"Bearer {name}-key"
            standin.recorder.reset()
        reviews.recorder.reset()

        answer = await execute(
            process.url, TOP_REVIEWERS, {"first": 3}, key=None, headers={"X-Caller": "alice"}
        )
        assert answer.errors is None, answer.errors
        assert answer.data == {"topReviewers": _expected_top(reviews.data, 3)}
        tracker, chat = _owner(standins, "TrackerUser"), _owner(standins, "ChatProfile")
        # One batch per entity type: the 3 reviewers' names, then every review's profile.
        assert _entity_calls(tracker.recorder, "TrackerUser") == [3]
        # The gateway sends a representation per reference, duplicates included (21 reviews,
        # 3 emails): connectql's `_entities` must dedupe through its dataloaders.
        assert _entity_calls(chat.recorder, "ChatProfile") == [8 + 7 + 6]
        emails = {
            r["email"]
            for op in chat.recorder.entity_calls
            for r in op.representations or ()
            if r["__typename"] == "ChatProfile"
        }
        assert emails == {BY_LOGIN[login].email for login in reviews.data.top_reviewers(3)}
        assert reviews.recorder.entity_calls == []  # topReviewers' reviews are its own
        [top] = reviews.recorder.operations
        assert top.headers["x-caller"] == "alice"  # forwarded: reviews asked for it
        assert "authorization" not in top.headers  # the stand-ins' keys stay theirs
        for standin in standins.values():
            assert all(op.headers["authorization"] for op in standin.recorder.operations)
            assert all("x-caller" not in op.headers for op in standin.recorder.operations)

        reviews.recorder.reset()
        answer = await execute(process.url, USER_WITH_REVIEWS, {"login": "grace-hopper"}, key=None)
        assert answer.errors is None, answer.errors
        grace = BY_LOGIN["grace-hopper"]
        assert answer.data == {
            "trackerUser": {
                "name": grace.name,
                "reviews": [
                    {"stars": r.stars, "author": {"login": grace.login, "name": grace.name}}
                    for r in reviews.data.of(grace.login)
                ],
            }
        }
        [call] = reviews.recorder.entity_calls
        assert call.representations == ({"__typename": "TrackerUser", "login": "grace-hopper"},)


async def test_composition_is_timed_and_matches_the_gateway(
    gateway: Gateways, reviews: ReviewsSubgraph
) -> None:
    async with serving_standin(key="k") as standin:
        subgraphs = {
            "reviews": Subgraph(reviews.url),
            "standin": Subgraph(standin.url, headers={"Authorization": "Bearer k"}),
        }
        composition = await gateway.compose(subgraphs, repeat=5)
        print(composition.summary())  # the measurement, for notes (-s shows it)
        assert len(composition.compose_ms) == 5
        assert composition.errors == []
        assert composition.hints == []
        assert composition.supergraph_sdl is not None
        assert "topReviewers" in composition.supergraph_sdl
        process = await gateway.start(subgraphs)
        # compose mode composes what the gateway composes, byte for byte.
        sha = hashlib.sha256(composition.supergraph_sdl.encode()).hexdigest()
        assert process.compositions[0]["supergraph_sha256"] == sha


# Two subgraphs sharing a value type whose field is nullable in one and not in the other:
# composition succeeds with a hint (INCONSISTENT_BUT_COMPATIBLE_FIELD_TYPE).
@strawberry.federation.type(shareable=True, name="Note")
class NullableNote:
    text: str | None


@strawberry.federation.type(shareable=True, name="Note")
class StrictNote:
    text: str


@strawberry.type(name="Query")
class NullableNotes:
    @strawberry.field
    def note(self) -> NullableNote:
        return NullableNote(text="a")


@strawberry.type(name="Query")
class StrictNotes:
    @strawberry.field
    def strict_note(self) -> StrictNote:
        return StrictNote(text="b")


# connectql's TrackerUser keyed by a String! login, where reviews says ID!: composition fails.
@strawberry.federation.type(keys=["login"], name="TrackerUser")
class StringKeyedUser:
    login: str


@strawberry.type(name="Query")
class StringKeyedUsers:
    @strawberry.field
    def user(self) -> StringKeyedUser:
        return StringKeyedUser(login="ada-lovelace")


def _schema(query: type) -> strawberry.federation.Schema:
    return strawberry.federation.Schema(query=query, extensions=[recording(Recorder())])


async def test_hints_reach_the_test(gateway: Gateways) -> None:
    async with (
        serving_subgraph(_schema(NullableNotes)) as loose,
        serving_subgraph(_schema(StrictNotes)) as strict,
    ):
        subgraphs = {"loose": loose.url, "strict": strict.url}
        process = await gateway.start(subgraphs)
        [composition] = process.compositions
        assert composition["errors"] == []
        hints = {(h["code"], h["coordinate"]) for h in composition["hints"]}
        assert hints == {("INCONSISTENT_BUT_COMPATIBLE_FIELD_TYPE", "Note.text")}
        composed = await gateway.compose(subgraphs)
        assert composed.hints == composition["hints"]


@strawberry.type(name="Query")
class NotesMadeStrict:
    @strawberry.field
    def note(self) -> StrictNote:
        return StrictNote(text="a")

    @strawberry.field
    def added(self) -> int:
        return 1


async def test_polling_recomposes_and_reports_again(gateway: Gateways) -> None:
    async with (
        serving_subgraph(_schema(NullableNotes)) as loose,
        serving_subgraph(_schema(StrictNotes)) as strict,
    ):
        process = await gateway.start({"loose": loose.url, "strict": strict.url}, poll_ms=100)
        assert [h["code"] for h in process.compositions[0]["hints"]] == [
            "INCONSISTENT_BUT_COMPATIBLE_FIELD_TYPE"
        ]
        loose.app.swap(_schema(NotesMadeStrict))  # as connectql swaps its schema
        await eventually(lambda: len([e for e in process.events if e["event"] == "schema"]) == 2)
        _, second = process.compositions  # an unchanged SDL is not composed again
        assert second["errors"] == []
        assert second["hints"] == []  # Note.text is String! on both sides now
        assert process.last("schema") == {
            "event": "schema",
            "supergraph_sha256": second["supergraph_sha256"],
        }
        answer = await execute(process.url, "{ added note { text } }", key=None)
        assert answer.errors is None, answer.errors
        assert answer.data == {"added": 1, "note": {"text": "a"}}


async def _exit_code(process: GatewayProcess, timeout: float = 60.0) -> int:
    assert process.process is not None
    return await asyncio.to_thread(process.process.wait, timeout)


async def test_composition_errors_stop_the_gateway(
    gateway: Gateways, reviews: ReviewsSubgraph
) -> None:
    async with serving_subgraph(_schema(StringKeyedUsers)) as users:
        subgraphs = {"reviews": reviews.url, "users": users.url}
        process = gateway.new(subgraphs)
        process.spawn()
        assert await _exit_code(process) == 1, process.output
        [composition] = process.compositions
        assert composition["supergraph_sha256"] is None
        codes = {e["code"] for e in composition["errors"]}
        assert "FIELD_TYPE_MISMATCH" in codes, composition["errors"]
        fatal = process.last("fatal")
        assert fatal is not None
        assert "FIELD_TYPE_MISMATCH" in fatal["message"]
        composed = await gateway.compose(subgraphs)
        assert composed.supergraph_sdl is None
        assert composed.errors == composition["errors"]


@pytest.mark.parametrize("case", ["nothing-listens", "no-api-key"])
async def test_introspection_failure_stops_the_gateway(
    gateway: Gateways, reviews: ReviewsSubgraph, case: str
) -> None:
    async with serving_standin(key="k") as standin:
        url = (
            f"http://127.0.0.1:{free_port()}/graphql" if case == "nothing-listens" else standin.url
        )
        process = gateway.new({"reviews": reviews.url, "connectql": url})
        process.spawn()
        assert await _exit_code(process) == 1, process.output
        assert process.compositions == []
        fatal = process.last("fatal")
        assert fatal is not None
        assert 'Couldn\'t load service definitions for "connectql"' in fatal["message"]


def test_lockfile_installs_the_pins() -> None:
    text = LOCKFILE.read_text()
    lock = json.loads(text)
    packages = lock["packages"]
    assert packages[""]["dependencies"] == PINS
    for package, version in PINS.items():
        assert packages[f"node_modules/{package}"]["version"] == version
    # compose mode must run the gateway's own composition code.
    gateway_needs = packages["node_modules/@apollo/gateway"]["dependencies"]
    assert gateway_needs["@apollo/composition"] == PINS["@apollo/composition"]
    assert "node_modules/@apollo/gateway/node_modules/@apollo/composition" not in packages
    assert '"resolved"' not in text  # installs from whichever registry npm is set up with


@pytest.mark.parametrize(("required", "outcome"), [("1", "fail"), (None, "skip")])
def test_missing_gateway_skips_unless_required(
    monkeypatch: pytest.MonkeyPatch, required: str | None, outcome: str
) -> None:
    monkeypatch.setattr(gateway_module, "unavailable", lambda: "no node here")
    if required is None:
        monkeypatch.delenv(conftest.REQUIRE, raising=False)
    else:
        monkeypatch.setenv(conftest.REQUIRE, required)
    expected = pytest.fail.Exception if outcome == "fail" else pytest.skip.Exception
    with pytest.raises(expected, match="no node here"):
        conftest.require_gateway()
