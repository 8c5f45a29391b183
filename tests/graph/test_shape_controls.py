"""Shape controls through a served schema: root-mounted operations (`namespace: false`),
hidden operations (`expose: false`), plain-list links with their own arguments
(`connection: false`), and link fields whose arguments reach their operation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from connectql.api import API_ROOTS
from connectql.errors import FieldClash, SchemaBuildError
from connectql.testing import FakeUpstream
from tests.fakes.tracker import create_tracker_app
from tests.graph.shape_specs import ROOT_TRACKER, load, runtime_with, tracker_config
from tests.support import VIEWER_KEY, execute, serving

ISSUES = "/repos/acme/widgets/issues"


@pytest.fixture
async def tracker() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(create_tracker_app()) as upstream:
        yield upstream


@pytest.fixture
async def url(tmp_path: Path, tracker: FakeUpstream) -> AsyncIterator[str]:
    runtime = runtime_with((load(tmp_path, ROOT_TRACKER), tracker_config(tracker.url)))
    async with serving(runtime) as base:
        yield base


async def _type(url: str, name: str) -> dict[str, object] | None:
    query = """query($n: String!) { __type(name: $n) {
      name fields { name args { name defaultValue } type { kind name ofType { kind name
        ofType { kind name } } } } } }"""
    result = await execute(url, query, {"n": name})
    assert result.errors is None, result.errors
    found: dict[str, object] | None = result.data["__type"]
    return found


# --- namespace: false ------------------------------------------------------------------


async def test_operations_of_a_root_connector_are_root_fields(
    url: str, tracker: FakeUpstream
) -> None:
    result = await execute(
        url,
        '{ issues(owner: "acme", repo: "widgets", first: 3) '
        "{ nodes { number author { login } } pageInfo { hasNextPage } } }",
    )
    assert result.errors is None, result.errors
    issues = result.data["issues"]
    assert [i["number"] for i in issues["nodes"]] == [50, 49, 48]
    assert all(i["author"]["login"] for i in issues["nodes"])
    assert issues["pageInfo"]["hasNextPage"] is True
    assert tracker.count("GET", ISSUES) == 1
    assert tracker.count("GET", "/users") == 1  # the hidden lookup still batches
    query = await _type(url, "Query")
    assert query is not None
    names = {f["name"] for f in query["fields"]}  # type: ignore[attr-defined, index]
    assert {"issues", "connectors", "schemaVersion"} <= names
    assert not {"tracker", "user", "usersIn"} & names
    assert await _type(url, "TrackerQuery") is None


async def test_a_root_mutation_keeps_the_admin_rule(url: str, tracker: FakeUpstream) -> None:
    lock = "mutation { lockIssue(number: 7) }"
    refused = await execute(url, lock, key=VIEWER_KEY)
    assert refused.data == {"lockIssue": None}
    [error] = refused.errors
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["path"] == ["lockIssue"]
    assert tracker.count("PUT") == 0
    allowed = await execute(url, lock)
    assert allowed.errors is None, allowed.errors
    assert allowed.data == {"lockIssue": None}  # the fake has no such route: 404 → null
    assert tracker.count("PUT", f"{ISSUES}/7/lock") == 1


# --- expose: false ---------------------------------------------------------------------


async def test_a_hidden_operation_has_no_field_and_no_orphan_types(url: str) -> None:
    mutation = await _type(url, "Mutation")
    assert mutation is not None
    assert "lockIssue" in {f["name"] for f in mutation["fields"]}  # type: ignore[attr-defined, index]
    assert await _type(url, "TrackerLoginList") is None  # only usersIn took it
    assert await _type(url, "TrackerUser") is not None  # links still return it
    assert await _type(url, "TrackerIssueStateFilter") is not None  # public fields use it


# --- connection: false and a link's own arguments ---------------------------------------


async def test_a_plain_list_link_takes_its_own_arguments(url: str, tracker: FakeUpstream) -> None:
    result = await execute(
        url,
        """{ issues(owner: "acme", repo: "widgets", first: 1) { nodes { author {
             open: issues(first: 2) { number state }
             closed: issues(state: CLOSED, first: 3) { number state }
             again: issues(state: CLOSED, first: 3) { number }
             some: issues { number } } } } }""",
    )
    assert result.errors is None, result.errors
    author = result.data["issues"]["nodes"][0]["author"]
    assert [i["state"] for i in author["open"]] == ["OPEN", "OPEN"]
    assert [i["state"] for i in author["closed"]] == ["CLOSED"] * 3
    assert [i["number"] for i in author["closed"]] == [50, 45, 40]
    assert len(author["some"]) == 4  # `first` defaults to the pagination's page_size
    states = [r.query.get("state") for r in tracker.requests if r.path == ISSUES]
    assert states.count("closed") == 2  # each field fetches its own list
    assert states.count("open") == 2


async def test_a_plain_list_link_is_a_list_capped_by_max_items(url: str) -> None:
    user = await _type(url, "TrackerUser")
    assert user is not None
    issues = next(f for f in user["fields"] if f["name"] == "issues")  # type: ignore[attr-defined]
    assert issues["type"] == {
        "kind": "LIST",
        "name": None,
        "ofType": {
            "kind": "NON_NULL",
            "name": None,
            "ofType": {"kind": "OBJECT", "name": "TrackerIssue"},
        },
    }
    assert {a["name"]: a["defaultValue"] for a in issues["args"]} == {
        "first": "4",
        "state": "OPEN",
    }
    result = await execute(
        url,
        '{ issues(owner: "acme", repo: "widgets", first: 1) '
        "{ nodes { author { issues(first: 21) { number } } } } }",
    )
    [error] = result.errors
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "between 0 and 20" in error["message"]


def people_app() -> web.Application:
    """Users and their avatars at a size: `GET /people/{login}/avatar?size=N`."""

    async def person(request: web.Request) -> web.Response:
        login = request.match_info["login"]
        return web.json_response({"login": login, "friend": f"{login}-friend"})

    async def avatar(request: web.Request) -> web.Response:
        login, size = request.match_info["login"], request.query.get("size", "64")
        return web.json_response({"url": f"https://img.test/{login}?s={size}", "size": int(size)})

    async def repos(request: web.Request) -> web.Response:
        login, kind = request.match_info["login"], request.query.get("type", "all")
        page, size = int(request.query.get("page", "1")), int(request.query.get("per_page", "2"))
        names = [f"{login}-{kind}-{n}" for n in range(5)][(page - 1) * size : page * size]
        return web.json_response([{"name": name, "type": kind} for name in names])

    app = web.Application()
    app.router.add_get("/people/{login}/repos", repos)
    app.router.add_get("/people/{login}", person)
    app.router.add_get("/people/{login}/avatar", avatar)
    return app


PEOPLE = """\
spec_version: 1
connector: {name: people}
config: {base_url: {required: true}}
source: {base_url: "{config.base_url}"}
types:
  Avatar: {fields: {url: String!, size: Int!}}
  Repo: {fields: {name: String!, type: String!}}
  Person:
    fields:
      login: String!
      friend:
        type: Person
        resolve: {operation: person, args: {login: "{parent.friend}"}}
      avatar:
        type: Avatar!
        args: {size: {type: Int, default: 64}, shape: String}
        resolve: {operation: avatar, args: {login: "{parent.login}"}}
      repos:
        type: "[Repo]"
        args: {kind: String}
        resolve: {operation: repos, args: {login: "{parent.login}", type: "{args.kind}"}}
operations:
  repos:
    expose: false
    args: {login: String!, type: String}
    request: {path: "/people/{args.login}/repos", query: {type: "{args.type}"}}
    response: {type: "[Repo!]!"}
    pagination: {strategy: page, size_param: per_page, page_size: 2}
  person:
    args: {login: String!}
    request: {path: "/people/{args.login}"}
    response: {type: Person}
  avatar:
    expose: false
    args: {login: String!, size: Int}
    request: {path: "/people/{args.login}/avatar", query: {size: "{args.size}"}}
    response: {type: Avatar!}
"""


async def test_a_link_passes_its_own_arguments_and_loads_once_per_arguments(
    tmp_path: Path,
) -> None:
    async with FakeUpstream(people_app()) as people:
        runtime = runtime_with((load(tmp_path, PEOPLE, "people.yaml"), {"base_url": people.url}))
        async with serving(runtime) as url:
            result = await execute(
                url,
                """{ people { person(login: "ada") {
                     small: avatar(size: 32) { url size }
                     big: avatar(size: 128) { size }
                     plain: avatar { size }
                     again: avatar(size: 32, shape: "round") { size }
                     friend { small: avatar(size: 32) { size } }
                     repos(kind: "fork", first: 3) {
                       nodes { name type } pageInfo { hasNextPage } } } } }""",
            )
    assert result.errors is None, result.errors
    ada = result.data["people"]["person"]
    assert ada["small"] == {"url": "https://img.test/ada?s=32", "size": 32}
    assert (ada["big"]["size"], ada["plain"]["size"], ada["again"]["size"]) == (128, 64, 32)
    assert ada["friend"]["small"]["size"] == 32
    assert ada["repos"] == {  # a connection link: its own `kind` becomes the operation's `type`
        "nodes": [{"name": f"ada-fork-{n}", "type": "fork"} for n in range(3)],
        "pageInfo": {"hasNextPage": True},
    }
    sizes = sorted((r.path, r.query["size"]) for r in people.requests if r.path.endswith("/avatar"))
    # equal arguments load once; `shape` is the field's own and the operation has no such one
    assert sizes == [
        ("/people/ada-friend/avatar", "32"),
        ("/people/ada/avatar", "128"),
        ("/people/ada/avatar", "32"),
        ("/people/ada/avatar", "64"),
    ]


# --- clashes ---------------------------------------------------------------------------


CONNECTORS_OPERATION = """\
  connectors:
    request: {path: /x}
    response: {type: JSON}
"""
CLASHING = ROOT_TRACKER.replace("  lockIssue:", CONNECTORS_OPERATION + "  lockIssue:")


def test_a_root_operation_named_like_a_control_plane_field_is_refused(tmp_path: Path) -> None:
    spec = load(tmp_path, CLASHING)
    with pytest.raises(FieldClash) as caught:
        runtime_with((spec, tracker_config("http://127.0.0.1:9")), roots=API_ROOTS)
    clash = caught.value
    assert isinstance(clash, SchemaBuildError)
    assert (clash.connector, clash.operation) == ("tracker", "connectors")
    [error] = clash.errors
    line = CLASHING.splitlines().index("  connectors:") + 1
    assert str(error.location) == f"{tmp_path / 'tracker.yaml'}:{line}:3 operations.connectors"
    assert "Query.connectors, which clashes with a field of the control plane" in error.message


def test_two_root_connectors_and_a_namespace_field_clash_with_locations(tmp_path: Path) -> None:
    tracker = load(tmp_path, ROOT_TRACKER)
    other = ROOT_TRACKER.replace("name: tracker", "name: mirror")
    mirror = load(tmp_path, other, "mirror.yaml")
    config = tracker_config("http://127.0.0.1:9")
    with pytest.raises(FieldClash) as caught:
        runtime_with((tracker, config), (mirror, config))
    found = sorted(str(e) for e in caught.value.errors if "Query.issues" in e.message)
    line = ROOT_TRACKER.splitlines().index("  issues:") + 1
    assert found[0].startswith(f"{tmp_path / 'mirror.yaml'}:{line}:3 operations.issues: ")
    assert "clashes with operation 'issues' of connector 'tracker'" in found[0]
    assert found[1].startswith(f"{tmp_path / 'tracker.yaml'}:{line}:3 operations.issues: ")
    assert any("Mutation.lockIssue" in e.message for e in caught.value.errors)
    renamed = load(tmp_path, other.replace("  lockIssue:", "  tracker:"), "mirror.yaml")
    namespaced = load(tmp_path, ROOT_TRACKER.replace("namespace: false", "namespace: true"))
    with pytest.raises(FieldClash) as caught:
        runtime_with((namespaced, config), (renamed, config))
    [error] = caught.value.errors
    assert error.location.path == "operations.tracker"
    assert error.location.file.endswith("mirror.yaml")
    assert "Mutation.tracker, which clashes with the namespace field of connector 'tracker'" in (
        error.message
    )
