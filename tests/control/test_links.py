"""Registry links: createLink/deleteLink, their checks, the lifecycle of a join's target
(refused, forced, CONNECTOR_UNAVAILABLE, started again), restarts and replicas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from connectql.connectors.egress import EgressPolicy
from connectql.control.service import ControlPlane
from connectql.events import LocalBus
from connectql.graph.joins import ACTIVE, Link
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec
from connectql.testing import FakeUpstream
from tests.fakes.chat import CHAT_TOKEN, ChatState, create_chat_app
from tests.fakes.tracker import TRACKER_TOKEN, TrackerData, create_tracker_app
from tests.support import control_server, eventually, execute, registry_at

DATA = Path(__file__).parent.parent / "fakes" / "data"
CHAT_SPEC = (DATA / "chat.yaml").read_text()
LINK = {
    "type": "TrackerUser",
    "field": "chat",
    "connector": "chat",
    "operation": "profileByEmail",
    "args": {"email": "{parent.email}"},
    "description": "The user's chat profile.",
}
CREATE_CONNECTOR = (
    "mutation($s: String!, $c: JSON) { createConnector(spec: $s, config: $c) "
    "{ ... on ConnectorChanged { applied } } }"
)
CREATE_LINK = """
mutation($link: LinkInput!, $force: Boolean = false) {
  createLink(link: $link, force: $force) {
    __typename
    ... on LinkChanged { applied link { state source } breakingChanges { type description } }
    ... on LinkInvalid { name errors { path message } }
  }
}"""
DELETE_LINK = """
mutation($force: Boolean = false) {
  deleteLink(type: "TrackerUser", field: "chat", force: $force) {
    applied link { state } breakingChanges { type description }
  }
}"""
LINKS = "{ links { type field connector operation args description source state reason } }"
STOP = """mutation($force: Boolean = false) { stopConnector(name: "chat", force: $force) {
  ... on ConnectorChanged { applied breakingChanges { type description } } } }"""
START = 'mutation { startConnector(name: "chat") { ... on ConnectorChanged { applied } } }'
USERS_CHAT = """
{ tracker { issues(owner: "acme", repo: "widgets", first: 10) {
    nodes { number author { login chat { realName } } } } } }
"""


@pytest.fixture
async def tracker() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(create_tracker_app(TrackerData())) as upstream:
        yield upstream


@pytest.fixture
async def chat() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(create_chat_app(ChatState.seeded())) as upstream:
        yield upstream


def tracker_runtime(tracker: FakeUpstream) -> Runtime:
    """The tracker as a connectql.yaml connector: chat comes from the registry."""
    runtime = Runtime()
    runtime.add(load_spec(DATA / "tracker.yaml"), {"base_url": tracker.url, "token": TRACKER_TOKEN})
    return runtime


async def ok(url: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    result = await execute(url, query, variables)
    assert result.errors is None, result.errors
    return result.data


async def with_chat(url: str, chat: FakeUpstream) -> None:
    config = {"base_url": chat.url, "token": CHAT_TOKEN}
    created = await ok(url, CREATE_CONNECTOR, {"s": CHAT_SPEC, "c": config})
    assert created == {"createConnector": {"applied": True}}


async def test_a_created_link_serves_its_field_batched(
    tmp_path: Path, tracker: FakeUpstream, chat: FakeUpstream
) -> None:
    async with control_server(tmp_path, runtime=tracker_runtime(tracker)) as (url, _):
        await with_chat(url, chat)
        made = (await ok(url, CREATE_LINK, {"link": LINK}))["createLink"]
        assert made["__typename"] == "LinkChanged"
        assert made["applied"] is True
        assert made["link"] == {"state": "ACTIVE", "source": "registry"}
        data = await ok(url, USERS_CHAT)
        nodes = data["tracker"]["issues"]["nodes"]
        assert all(n["author"]["chat"]["realName"] for n in nodes)
        assert chat.count("GET", "/users.lookupByEmails") == 1
        listed = (await ok(url, LINKS))["links"]
        assert listed == [{**LINK, "source": "registry", "state": "ACTIVE", "reason": None}]


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        pytest.param(
            {"operation": "profileByMail"},
            "operation",
            "chat has no operation profileByMail (did you mean profileByEmail?)",
            id="unknown-operation",
        ),
        pytest.param(
            {"type": "TrackerUsr"},
            "type",
            "no connector type is named TrackerUsr (did you mean TrackerUser?)",
            id="unknown-type",
        ),
        pytest.param(
            {"field": "email"}, "field", "TrackerUser already has a field email", id="field-clash"
        ),
        pytest.param(
            {"connector": "slack"}, "connector", "no connector named slack", id="unknown-connector"
        ),
        pytest.param(
            {"args": {"mail": "{parent.email}"}},
            "args.mail",
            "profileByEmail has no argument mail (did you mean email?)",
            id="unknown-argument",
        ),
        pytest.param(
            {"args": {}}, "args", "profileByEmail needs the argument email", id="required-argument"
        ),
        pytest.param(
            {"args": {"email": "{parent.mail}"}},
            "args.email",
            "TrackerUser has no field mail (did you mean email?)",
            id="unknown-parent-field",
        ),
        pytest.param(
            {"args": {"email": "{config.token}"}},
            "args.email",
            "{config.token}: a link's arguments read the parent's fields only ({parent.FIELD})",
            id="not-a-parent-placeholder",
        ),
    ],
)
async def test_create_link_answers_every_problem_at_its_key(
    tmp_path: Path,
    tracker: FakeUpstream,
    chat: FakeUpstream,
    change: dict[str, Any],
    path: str,
    message: str,
) -> None:
    async with control_server(tmp_path, runtime=tracker_runtime(tracker)) as (url, control):
        await with_chat(url, chat)
        before = control.runtime.version
        answer = (await ok(url, CREATE_LINK, {"link": {**LINK, **change}}))["createLink"]
        assert answer["__typename"] == "LinkInvalid"
        assert answer["errors"][0]["path"] == path
        assert answer["errors"][0]["message"].startswith(message)
        assert control.runtime.version == before
        assert (await ok(url, LINKS))["links"] == []
        assert await control.registry.links() == []  # type: ignore[union-attr]


async def test_a_link_to_a_stopped_connector_is_refused_saying_so(
    tmp_path: Path, tracker: FakeUpstream, chat: FakeUpstream
) -> None:
    async with control_server(tmp_path, runtime=tracker_runtime(tracker)) as (url, _):
        await with_chat(url, chat)
        await ok(url, STOP, {"force": True})
        answer = (await ok(url, CREATE_LINK, {"link": LINK}))["createLink"]
        assert answer["errors"] == [
            {"path": "connector", "message": "connector chat is stopped; start it first"}
        ]


async def test_a_link_may_not_replace_a_config_link_nor_be_created_twice(
    tmp_path: Path, tracker: FakeUpstream, chat: FakeUpstream
) -> None:
    runtime = Runtime()
    specs = [
        (load_spec(DATA / "tracker.yaml"), {"base_url": tracker.url, "token": TRACKER_TOKEN}),
        (load_spec(DATA / "chat.yaml"), {"base_url": chat.url, "token": CHAT_TOKEN}),
    ]
    runtime.apply(runtime.prepare(specs, links=[Link(**LINK)]))
    async with control_server(tmp_path, runtime=runtime) as (url, _):
        again = await execute(url, CREATE_LINK, {"link": LINK})
        assert again.errors[0]["extensions"]["code"] == "CONFLICT"
        assert "defined in connectql.yaml" in again.errors[0]["message"]
        gone = await execute(url, DELETE_LINK, {"force": True})
        assert "defined in connectql.yaml" in gone.errors[0]["message"]
        other = {**LINK, "field": "profile"}
        assert (await ok(url, CREATE_LINK, {"link": other}))["createLink"]["applied"]
        twice = await execute(url, CREATE_LINK, {"link": other})
        assert "already exists" in twice.errors[0]["message"]
        listed = (await ok(url, LINKS))["links"]
        assert [(item["field"], item["source"]) for item in listed] == [
            ("chat", "config"),
            ("profile", "registry"),
        ]


async def test_stopping_a_join_target_is_refused_then_forced_then_started_again(
    tmp_path: Path, tracker: FakeUpstream, chat: FakeUpstream
) -> None:
    async with control_server(tmp_path, runtime=tracker_runtime(tracker)) as (url, control):
        await with_chat(url, chat)
        await ok(url, CREATE_LINK, {"link": LINK})

        refused = (await ok(url, STOP))["stopConnector"]
        assert refused["applied"] is False
        joined = [c for c in refused["breakingChanges"] if c["type"] == "JOIN_TARGET_UNAVAILABLE"]
        assert len(joined) == 1
        assert "TrackerUser.chat" in joined[0]["description"]
        assert (await ok(url, USERS_CHAT))["tracker"]["issues"]["nodes"][0]["author"]["chat"]

        assert (await ok(url, STOP, {"force": True}))["stopConnector"]["applied"] is True
        calls = chat.count()
        result = await execute(url, USERS_CHAT)
        nodes = result.data["tracker"]["issues"]["nodes"]
        assert len(nodes) == 10
        assert all(n["author"]["login"] and n["author"]["chat"] is None for n in nodes)
        assert result.errors
        for error in result.errors:
            assert error["extensions"]["code"] == "CONNECTOR_UNAVAILABLE"
            assert error["extensions"]["connector"] == "chat"
            assert "chat is not running" in error["message"]
        assert chat.count() == calls
        # the type stays, the namespace goes
        typed = await ok(url, '{ __type(name: "ChatProfile") { name } }')
        assert typed == {"__type": {"name": "ChatProfile"}}
        assert (await execute(url, "{ chat { __typename } }")).errors
        (listed,) = (await ok(url, LINKS))["links"]
        assert listed["state"] == "UNAVAILABLE"
        assert listed["reason"] == "connector chat is not running"

        started = await ok(url, START)
        assert started == {"startConnector": {"applied": True}}
        data = await ok(url, USERS_CHAT)
        assert all(n["author"]["chat"]["realName"] for n in data["tracker"]["issues"]["nodes"])
        assert (await ok(url, LINKS))["links"][0]["state"] == "ACTIVE"
        assert control.runtime.joins.statuses[0].state == ACTIVE


async def test_deleting_a_link_is_breaking_and_needs_force(
    tmp_path: Path, tracker: FakeUpstream, chat: FakeUpstream
) -> None:
    async with control_server(tmp_path, runtime=tracker_runtime(tracker)) as (url, _):
        await with_chat(url, chat)
        await ok(url, CREATE_LINK, {"link": LINK})
        refused = (await ok(url, DELETE_LINK))["deleteLink"]
        assert refused["applied"] is False
        kinds = {c["type"] for c in refused["breakingChanges"]}
        assert {"FIELD_REMOVED", "JOIN_REMOVED"} <= kinds
        done = (await ok(url, DELETE_LINK, {"force": True}))["deleteLink"]
        assert done == {**done, "applied": True, "link": None}
        assert (await ok(url, LINKS))["links"] == []
        assert (await execute(url, USERS_CHAT)).errors  # the field is gone


async def test_deleting_a_join_target_keeps_the_field_until_the_next_start(
    tmp_path: Path, tracker: FakeUpstream, chat: FakeUpstream
) -> None:
    async with control_server(tmp_path, runtime=tracker_runtime(tracker)) as (url, _):
        await with_chat(url, chat)
        await ok(url, CREATE_LINK, {"link": LINK})
        deleted = await ok(
            url,
            'mutation { deleteConnector(name: "chat", force: true) '
            "{ ... on ConnectorChanged { applied } } }",
        )
        assert deleted == {"deleteConnector": {"applied": True}}
        result = await execute(url, USERS_CHAT)
        assert result.errors[0]["extensions"]["code"] == "CONNECTOR_UNAVAILABLE"
    # a restart: the target is known to no one any more
    async with control_server(tmp_path, runtime=tracker_runtime(tracker)) as (url, _):
        (listed,) = (await ok(url, LINKS))["links"]
        assert listed["state"] == "OMITTED"
        assert listed["reason"] == "connector chat is unknown"
        assert (await execute(url, USERS_CHAT)).errors  # no such field
        issues = USERS_CHAT.replace(" chat { realName }", "")
        assert (await ok(url, issues))["tracker"]["issues"]["nodes"][0]["author"]["login"]


async def test_after_a_restart_a_stopped_target_keeps_its_join_field(
    tmp_path: Path, tracker: FakeUpstream, chat: FakeUpstream
) -> None:
    async with control_server(tmp_path, runtime=tracker_runtime(tracker)) as (url, _):
        await with_chat(url, chat)
        await ok(url, CREATE_LINK, {"link": LINK})
        await ok(url, STOP, {"force": True})
    async with control_server(tmp_path, runtime=tracker_runtime(tracker)) as (url, _):
        (listed,) = (await ok(url, LINKS))["links"]
        assert listed["state"] == "UNAVAILABLE"
        result = await execute(url, USERS_CHAT)
        assert result.errors[0]["extensions"]["code"] == "CONNECTOR_UNAVAILABLE"
        await ok(url, START)
        assert (await ok(url, USERS_CHAT))["tracker"]["issues"]["nodes"][0]["author"]["chat"]


async def test_a_link_created_on_one_replica_appears_on_another(
    tmp_path: Path, tracker: FakeUpstream, chat: FakeUpstream
) -> None:
    def plane() -> ControlPlane:
        return ControlPlane(
            tracker_runtime(tracker),
            registry_at(tmp_path),
            LocalBus(),  # no bus between them: B catches up from the registry's count
            EgressPolicy(["127.0.0.1"]),
            reconcile_seconds=0.2,
        )

    a, b = plane(), plane()
    await a.start()
    await b.start()
    try:
        await a.create(CHAT_SPEC, config={"base_url": chat.url, "token": CHAT_TOKEN})
        await a.create_link(Link(**LINK))
        await eventually(lambda: [s.state for s in b.runtime.joins.statuses] == [ACTIVE], 5)
        fields = b.runtime.schema.graphql_schema.get_type("TrackerUser").fields  # type: ignore[union-attr]
        assert "chat" in fields
        await b.delete_link("TrackerUser", "chat", force=True)
        await eventually(lambda: a.runtime.joins.statuses == [], 5)
        assert a.stored_links == []
    finally:
        await a.stop()
        await b.stop()
        await asyncio.gather(a.runtime.stop(), b.runtime.stop())


async def test_links_over_rest(tmp_path: Path, tracker: FakeUpstream, chat: FakeUpstream) -> None:
    import aiohttp

    from tests.support import ADMIN_KEY, VIEWER_KEY

    async with (
        control_server(tmp_path, runtime=tracker_runtime(tracker)) as (url, _),
        aiohttp.ClientSession() as http,
    ):
        await with_chat(url, chat)
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        viewer = {"Authorization": f"Bearer {VIEWER_KEY}"}
        api = f"{url}/api/links"
        wrong = {**LINK, "operation": "profileByMail"}
        async with http.post(api, json=wrong, headers=admin) as r:
            assert r.status == 422
            body = await r.json()
        assert body["code"] == "LINK_INVALID"
        assert body["problems"] == [
            {
                "message": "chat has no operation profileByMail (did you mean profileByEmail?)",
                "path": "operation",
                "file": None,
                "line": None,
                "column": None,
            }
        ]
        async with http.post(api, json=LINK, headers=viewer) as r:
            assert r.status == 403
        async with http.post(api, json=LINK, headers=admin) as r:
            assert r.status == 201
            made = await r.json()
        assert made["link_id"] == "TrackerUser.chat"
        assert made["link"]["state"] == "active"
        async with http.get(api, headers=viewer) as r:
            listed = await r.json()
        assert [(item["type"], item["field"], item["source"]) for item in listed] == [
            ("TrackerUser", "chat", "registry")
        ]
        async with http.delete(f"{api}/TrackerUser/chat", headers=admin) as r:
            assert r.status == 409  # breaking: refused, with the diff
            refused = await r.json()
        assert {c["type"] for c in refused["breaking_changes"]} >= {"JOIN_REMOVED"}
        async with http.delete(f"{api}/TrackerUser/chat?force=true", headers=admin) as r:
            assert r.status == 200
        async with http.delete(f"{api}/TrackerUser/chat?force=true", headers=admin) as r:
            assert r.status == 404
