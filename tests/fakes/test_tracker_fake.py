"""The tracker fake behaves like a GitHub-style API, and its spec joins issues to authors
through connectql with one multi-get per list of issues."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from connectql.runtime import Runtime
from connectql.spec.loader import load_spec, load_spec_text
from connectql.testing import FakeUpstream
from tests.fakes.tracker import (
    DOCS,
    MAX_LOGINS,
    TRACKER_TOKEN,
    TrackerData,
    create_tracker_app,
)
from tests.processes import run_cli
from tests.support import execute, serving

SPEC = Path(__file__).parent / "data" / "tracker.yaml"
AUTH = {"Authorization": f"Bearer {TRACKER_TOKEN}"}
ISSUES = "/repos/acme/widgets/issues"
ISSUES_WITH_AUTHORS = """
{ tracker { issues(owner: "acme", repo: "widgets", first: 50) {
    nodes { number title state authorLogin author { login name email } } } } }
"""


@pytest.fixture
async def tracker() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(create_tracker_app()) as upstream:
        yield upstream


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def get(
    http: aiohttp.ClientSession, url: str, *, headers: dict[str, str] | None = None, **params: Any
) -> tuple[int, Any, aiohttp.ClientResponse]:
    async with http.get(url, params=params, headers=AUTH if headers is None else headers) as r:
        return r.status, await r.json(), r


# --- auth and routes ---


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        pytest.param({}, "Requires authentication", id="no-credentials"),
        pytest.param({"Authorization": "Bearer ghp_nope"}, "Bad credentials", id="bad-token"),
        pytest.param(
            {"Authorization": "Basic Zm9vOmJhcg=="}, "Requires authentication", id="basic"
        ),
    ],
)
async def test_requests_without_a_valid_token_are_401_github_style(
    http: aiohttp.ClientSession, tracker: FakeUpstream, headers: dict[str, str], message: str
) -> None:
    status, body, _ = await get(http, f"{tracker.url}/users/ada-lovelace", headers=headers)
    assert status == 401
    assert body == {"message": message, "documentation_url": DOCS, "status": "401"}
    assert tracker.count("GET", "/users/ada-lovelace") == 1  # refused requests are recorded


async def test_github_token_scheme_is_accepted_too(
    http: aiohttp.ClientSession, tracker: FakeUpstream
) -> None:
    headers = {"Authorization": f"token {TRACKER_TOKEN}"}
    status, body, _ = await get(http, f"{tracker.url}/users/ada-lovelace", headers=headers)
    assert (status, body["login"]) == (200, "ada-lovelace")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("GET", "/nowhere", id="unknown-route"),
        pytest.param("POST", "/users", id="wrong-method"),
        pytest.param("GET", "/repos/acme/gadgets/issues", id="unknown-repo"),
    ],
)
async def test_unknown_things_are_404_github_style(
    http: aiohttp.ClientSession, tracker: FakeUpstream, method: str, path: str
) -> None:
    async with http.request(method, f"{tracker.url}{path}", headers=AUTH) as r:
        assert r.status == 404
        assert await r.json() == {
            "message": "Not Found",
            "documentation_url": DOCS,
            "status": "404",
        }


# --- issues ---


async def test_the_default_seed_is_50_issues_by_8_authors_with_company_emails(
    http: aiohttp.ClientSession, tracker: FakeUpstream
) -> None:
    status, issues, _ = await get(http, f"{tracker.url}{ISSUES}", state="all", per_page="100")
    assert status == 200
    assert [i["number"] for i in issues] == list(range(50, 0, -1))  # newest first
    assert all({"number", "title", "state", "user"} <= i.keys() for i in issues)
    logins = {i["user"]["login"] for i in issues}
    assert len(logins) == 8
    for login in logins:
        _, user, _ = await get(http, f"{tracker.url}/users/{login}")
        assert user["email"] == f"{login}@acme.test"
        assert user["name"]
    assert sorted(logins) == sorted(p.login for p in TrackerData().people())


async def test_like_github_only_open_issues_are_listed_unless_state_says(
    http: aiohttp.ClientSession, tracker: FakeUpstream
) -> None:
    _, open_, _ = await get(http, f"{tracker.url}{ISSUES}", per_page="100")
    _, closed, _ = await get(http, f"{tracker.url}{ISSUES}", per_page="100", state="closed")
    assert {i["state"] for i in open_} == {"open"}
    assert [i["number"] for i in closed] == [50, 45, 40, 35, 30, 25, 20, 15, 10, 5]
    assert len(open_) + len(closed) == 50
    status, body, _ = await get(http, f"{tracker.url}{ISSUES}", state="merged")
    assert (status, body["message"].splitlines()[0]) == (400, "Invalid request.")


@pytest.mark.parametrize(
    ("per_page", "pages"),
    [
        pytest.param(None, [30, 20], id="default-30"),
        pytest.param(20, [20, 20, 10], id="three-pages"),
        pytest.param(50, [50], id="one-full-page"),
        pytest.param(500, [50], id="capped-at-100"),
    ],
)
async def test_issues_page_with_a_link_header_from_the_fakes_own_url(
    http: aiohttp.ClientSession, tracker: FakeUpstream, per_page: int | None, pages: list[int]
) -> None:
    params = {"state": "all"} | ({"per_page": str(per_page)} if per_page else {})
    url: str | None = f"{tracker.url}{ISSUES}"
    sizes, numbers = [], []
    while url is not None:
        async with http.get(url, params=params, headers=AUTH) as r:
            assert r.status == 200
            page = await r.json()
            links = r.links
        params = {}  # the next link carries the query
        sizes.append(len(page))
        numbers += [i["number"] for i in page]
        next_link = links.get("next")
        url = str(next_link["url"]) if next_link else None
        if url is not None:
            assert url.startswith(f"{tracker.url}{ISSUES}?")
            assert str(links["last"]["url"]).startswith(tracker.url)
    assert sizes == pages
    assert numbers == list(range(50, 0, -1))
    assert tracker.count("GET", ISSUES) == len(pages)


async def test_a_page_past_the_end_is_empty_and_links_back(
    http: aiohttp.ClientSession, tracker: FakeUpstream
) -> None:
    status, issues, r = await get(http, f"{tracker.url}{ISSUES}", per_page="20", page="9")
    assert (status, issues) == (200, [])
    assert set(r.links) == {"prev", "first"}


async def test_other_sizes_can_be_seeded(http: aiohttp.ClientSession) -> None:
    data = TrackerData(issues=7, authors=3, owner="acme", repo="gadgets")
    async with FakeUpstream(create_tracker_app(data)) as tracker:
        _, issues, _ = await get(
            http, f"{tracker.url}/repos/acme/gadgets/issues", state="all", per_page="100"
        )
    assert len(issues) == 7
    assert [i["user"]["login"] for i in issues] == [
        data.author_of(n).login for n in range(7, 0, -1)
    ]
    assert len({i["user"]["login"] for i in issues}) == 3


def test_people_are_distinct_however_many() -> None:
    people = TrackerData(authors=30).people()
    assert len({p.login for p in people}) == len({p.email for p in people}) == 30
    with pytest.raises(ValueError, match="authors >= 1"):
        TrackerData(authors=0)


# --- users ---


async def test_one_user_and_an_unknown_one(
    http: aiohttp.ClientSession, tracker: FakeUpstream
) -> None:
    status, user, _ = await get(http, f"{tracker.url}/users/Grace-Hopper")  # case-insensitive
    assert status == 200
    assert {k: user[k] for k in ("login", "name", "email")} == {
        "login": "grace-hopper",
        "name": "Grace Hopper",
        "email": "grace-hopper@acme.test",
    }
    status, body, _ = await get(http, f"{tracker.url}/users/nobody")
    assert status == 404
    assert body == {"message": "Not Found", "documentation_url": DOCS, "status": "404"}


async def test_the_users_multi_get_answers_known_logins_in_its_own_order(
    http: aiohttp.ClientSession, tracker: FakeUpstream
) -> None:
    asked = "ada-lovelace,nobody,ken-thompson,alan-turing,ada-lovelace"
    status, users, _ = await get(http, f"{tracker.url}/users", logins=asked)
    assert status == 200
    assert sorted(u["login"] for u in users) == ["ada-lovelace", "alan-turing", "ken-thompson"]
    assert [u["login"] for u in users] != ["ada-lovelace", "ken-thompson", "alan-turing"]
    assert all(u["email"] == f"{u['login']}@acme.test" for u in users)
    assert tracker.count("GET", "/users") == 1


@pytest.mark.parametrize(
    ("logins", "code"),
    [
        pytest.param(None, "missing", id="no-logins"),
        pytest.param(",".join(f"u{i}" for i in range(MAX_LOGINS + 1)), "invalid", id="101"),
    ],
)
async def test_the_users_multi_get_refuses_none_or_too_many(
    http: aiohttp.ClientSession, tracker: FakeUpstream, logins: str | None, code: str
) -> None:
    params: dict[str, Any] = {} if logins is None else {"logins": logins}
    status, body, _ = await get(http, f"{tracker.url}/users", **params)
    assert status == 422
    assert body["message"] == "Validation Failed"
    assert body["errors"][0] | {"message": ""} == {
        "resource": "User",
        "field": "logins",
        "code": code,
        "message": "",
    }


async def test_the_users_multi_get_takes_100(
    http: aiohttp.ClientSession, tracker: FakeUpstream
) -> None:
    logins = ["ada-lovelace"] + [f"u{i}" for i in range(MAX_LOGINS - 1)]
    status, users, _ = await get(http, f"{tracker.url}/users", logins=",".join(logins))
    assert (status, [u["login"] for u in users]) == (200, ["ada-lovelace"])


# --- the spec, through connectql ---


def test_the_spec_validates_with_the_cli(tmp_path: Path) -> None:
    done = run_cli("validate", str(SPEC), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "ok (tracker, 2 operations)" in done.stdout


def test_the_spec_loads() -> None:
    spec = load_spec(SPEC)
    assert spec.name == "tracker"
    assert spec.secret_keys() == {"token"}
    user = spec.operations["user"]
    assert user.batch is not None
    assert (user.batch.mode, user.batch.key, user.batch.match_on) == ("request", "login", "login")


def _spec_with_page_size(page_size: int) -> Any:
    raw = yaml.safe_load(SPEC.read_text())
    raw["operations"]["issues"]["pagination"]["page_size"] = page_size
    return load_spec_text(yaml.safe_dump(raw), "tracker.yaml")


@pytest.mark.parametrize(
    ("page_size", "pages"),
    [
        pytest.param(100, 1, id="one-page"),
        pytest.param(20, 3, id="three-pages"),
    ],
)
async def test_50_issues_with_their_authors_take_the_pages_and_one_user_call(
    tracker: FakeUpstream, page_size: int, pages: int
) -> None:
    runtime = Runtime()
    config = {"base_url": tracker.url, "token": TRACKER_TOKEN}
    runtime.set_connectors([(_spec_with_page_size(page_size), config)])
    async with serving(runtime) as url:
        result = await execute(url, ISSUES_WITH_AUTHORS)
    assert result.errors is None
    nodes = result.data["tracker"]["issues"]["nodes"]
    assert [n["number"] for n in nodes] == list(range(50, 0, -1))
    data = TrackerData()
    for node in nodes:
        author = data.author_of(node["number"])
        assert node["authorLogin"] == author.login
        assert node["author"] == {"login": author.login, "name": author.name, "email": author.email}
    assert {n["state"] for n in nodes} == {"OPEN", "CLOSED"}
    assert tracker.count("GET", ISSUES) == pages
    assert tracker.count("GET", "/users") == 1
    assert tracker.count() == pages + 1  # no single-user calls
    (batch,) = [r for r in tracker.requests if r.path == "/users"]
    assert sorted(batch.query["logins"].split(",")) == sorted(p.login for p in data.people())
    assert batch.headers["Authorization"] == f"Bearer {TRACKER_TOKEN}"


async def test_users_asked_side_by_side_share_one_call_and_unknown_ones_are_null(
    tracker: FakeUpstream,
) -> None:
    runtime = Runtime()
    runtime.set_connectors([(load_spec(SPEC), {"base_url": tracker.url, "token": TRACKER_TOKEN})])
    query = """{ tracker {
        a: user(login: "ada-lovelace") { login email }
        b: user(login: "nobody") { login }
        c: user(login: "dennis-ritchie") { name } } }"""
    async with serving(runtime) as url:
        result = await execute(url, query)
    assert result.errors is None
    assert result.data == {
        "tracker": {
            "a": {"login": "ada-lovelace", "email": "ada-lovelace@acme.test"},
            "b": None,
            "c": {"name": "Dennis Ritchie"},
        }
    }
    assert tracker.count("GET", "/users") == 1
    assert tracker.count() == 1


async def test_a_refused_token_is_an_unauthenticated_error(tracker: FakeUpstream) -> None:
    runtime = Runtime()
    runtime.set_connectors([(load_spec(SPEC), {"base_url": tracker.url, "token": "ghp_nope"})])
    async with serving(runtime) as url:
        result = await execute(url, '{ tracker { user(login: "ada-lovelace") { login } } }')
    (error,) = result.errors
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["extensions"]["connector"] == "tracker"
    assert "ghp_nope" not in str(result.errors)
    assert result.data == {"tracker": {"user": None}}


async def test_the_state_argument_filters_upstream(tracker: FakeUpstream) -> None:
    runtime = Runtime()
    runtime.set_connectors([(load_spec(SPEC), {"base_url": tracker.url, "token": TRACKER_TOKEN})])
    query = """{ tracker { issues(owner: "acme", repo: "widgets", state: CLOSED, first: 50) {
        nodes { number state } pageInfo { hasNextPage } } } }"""
    async with serving(runtime) as url:
        result = await execute(url, query)
    assert result.errors is None
    issues = result.data["tracker"]["issues"]
    assert [n["number"] for n in issues["nodes"]] == [50, 45, 40, 35, 30, 25, 20, 15, 10, 5]
    assert issues["pageInfo"] == {"hasNextPage": False}
    (call,) = tracker.requests
    assert (call.query["state"], call.query["per_page"]) == ("closed", "50")
