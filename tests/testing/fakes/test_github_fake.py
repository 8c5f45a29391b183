"""The GitHub fake behaves like the GitHub REST API, checked with a plain aiohttp client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from multidict import CIMultiDictProxy
from openapi_core.testing import MockRequest, MockResponse
from yarl import URL

from connectql.testing import FakeClock, FakeUpstream, Fault
from connectql.testing.fakes.github import GitHubState, create_github_app, openapi

TOKEN = "ghp_test_token"
APP_ID = 4242
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BAD_CREDENTIALS = {
    "message": "Bad credentials",
    "documentation_url": "https://docs.github.com/rest",
    "status": "401",
}


def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def app_key() -> rsa.RSAPrivateKey:
    return private_key()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state(clock: FakeClock, app_key: rsa.RSAPrivateKey) -> GitHubState:
    public_pem = app_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return GitHubState.seeded(
        tokens={TOKEN}, app_id=APP_ID, app_public_key_pem=public_pem, now=clock.time
    )


@pytest.fixture
async def github(state: GitHubState) -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(create_github_app(state)) as upstream:
        yield upstream


@pytest.fixture
async def http(github: FakeUpstream) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=github.url) as session:
        yield session


@dataclass
class Answer:
    status: int
    headers: CIMultiDictProxy[str]
    raw: bytes
    links: dict[str, str]

    def json(self) -> Any:
        return orjson.loads(self.raw)

    @property
    def remaining(self) -> int:
        return int(self.headers["x-ratelimit-remaining"])


async def call(
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> Answer:
    async with http.request(method, path, headers=AUTH | (headers or {}), **kwargs) as response:
        links = {rel: str(link["url"]) for rel, link in response.links.items()}
        return Answer(response.status, response.headers, await response.read(), links)


def app_jwt(key: rsa.RSAPrivateKey, now: float, *, iss: Any = APP_ID, lifetime: int = 540) -> str:
    """An app JWT as GitHub recommends it: issued a minute ago to allow for clock drift.

    Signed with PyJWS: PyJWT refuses to encode the integer `iss` many GitHub clients send.
    """
    claims = {"iat": int(now) - 60, "exp": int(now) - 60 + lifetime, "iss": iss}
    return jwt.PyJWS().encode(orjson.dumps(claims), key, algorithm="RS256")


async def test_the_recorder_sees_refused_requests_and_faults_come_first(
    http: aiohttp.ClientSession, github: FakeUpstream
) -> None:
    async with http.get("/users/ada") as response:
        assert response.status == 401
    assert github.count("GET", "/users/ada") == 1

    github.faults.add(Fault(status=502, body="bad gateway"))
    assert (await call(http, "GET", "/users/ada")).status == 502
    assert (await call(http, "GET", "/users/ada")).status == 200


# --- Authentication -----------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "Bearer nope", "Basic abc", f"Bearer{TOKEN}"])
async def test_bad_or_missing_credentials_are_401(
    http: aiohttp.ClientSession, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    async with http.get("/repos/octo-org/hello", headers=headers) as response:
        assert response.status == 401
        assert await response.json() == BAD_CREDENTIALS
        assert "x-ratelimit-remaining" in response.headers


@pytest.mark.parametrize("scheme", ["Bearer", "token"])
async def test_personal_token_in_either_scheme(
    http: aiohttp.ClientSession, github: FakeUpstream, scheme: str
) -> None:
    answer = await call(
        http, "GET", "/repos/octo-org/hello", headers={"Authorization": f"{scheme} {TOKEN}"}
    )
    assert answer.status == 200
    repo = answer.json()
    assert repo["full_name"] == "octo-org/hello"
    assert repo["owner"]["login"] == "octo-org"
    assert repo["url"] == f"{github.url}/repos/octo-org/hello", "links lead back to the fake"


async def test_app_jwt_mints_an_installation_token_that_expires(
    http: aiohttp.ClientSession,
    state: GitHubState,
    clock: FakeClock,
    app_key: rsa.RSAPrivateKey,
) -> None:
    as_app = {"Authorization": f"Bearer {app_jwt(app_key, clock.time())}"}
    minted = await call(http, "POST", "/app/installations/1/access_tokens", headers=as_app)
    assert minted.status == 201
    body = minted.json()
    assert body["token"].startswith("ghs_")
    expected = datetime.fromtimestamp(clock.time() + 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["expires_at"] == expected
    assert body["repository_selection"] == "all"
    assert body["permissions"]["issues"] == "write"
    assert state.installation_tokens_issued == 1

    as_installation = {"Authorization": f"token {body['token']}"}
    answer = await call(http, "GET", "/repos/octo-org/hello/issues", headers=as_installation)
    assert answer.status == 200
    created = await call(
        http, "POST", "/repos/octo-org/hello/issues", headers=as_installation, json={"title": "t"}
    )
    assert created.json()["user"]["login"] == "fake-app[bot]"

    clock.advance(3600)
    expired = await call(http, "GET", "/repos/octo-org/hello/issues", headers=as_installation)
    assert (expired.status, expired.json()) == (401, BAD_CREDENTIALS)


async def test_the_iss_claim_may_be_a_string(
    http: aiohttp.ClientSession, clock: FakeClock, app_key: rsa.RSAPrivateKey
) -> None:
    claims = {"iat": int(clock.time()), "exp": int(clock.time()) + 600, "iss": str(APP_ID)}
    token = jwt.encode(claims, app_key, algorithm="RS256")
    answer = await call(
        http,
        "POST",
        "/app/installations/1/access_tokens",
        headers={"Authorization": f"Bearer {token}"},
        json={"repositories": ["hello"], "permissions": {"issues": "read"}},
    )
    assert answer.status == 201
    assert answer.json()["repository_selection"] == "selected"
    assert answer.json()["permissions"] == {"issues": "read"}


@pytest.mark.parametrize(
    ("make_token", "message"),
    [
        (lambda key, now: TOKEN, "A JSON web token could not be decoded"),
        (lambda key, now: app_jwt(private_key(), now), "A JSON web token could not be decoded"),
        (lambda key, now: app_jwt(key, now, iss=1), "A JSON web token could not be decoded"),
        (
            lambda key, now: app_jwt(key, now, lifetime=700),
            "'Expiration time' claim ('exp') is too far in the future",
        ),
        (
            lambda key, now: app_jwt(key, now - 600),
            "'Expiration time' claim ('exp') must be a numeric value representing the future "
            "time at which the assertion expires",
        ),
    ],
    ids=["personal-token", "other-key", "other-app", "too-long", "expired"],
)
async def test_bad_app_jwts_are_401(
    http: aiohttp.ClientSession,
    state: GitHubState,
    clock: FakeClock,
    app_key: rsa.RSAPrivateKey,
    make_token: Any,
    message: str,
) -> None:
    token = make_token(app_key, clock.time())
    answer = await call(
        http,
        "POST",
        "/app/installations/1/access_tokens",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status == 401
    assert answer.json()["message"] == message
    assert state.installation_tokens_issued == 0


async def test_unknown_installation_is_404(
    http: aiohttp.ClientSession, clock: FakeClock, app_key: rsa.RSAPrivateKey
) -> None:
    token = app_jwt(app_key, clock.time())
    answer = await call(
        http,
        "POST",
        "/app/installations/99/access_tokens",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert (answer.status, answer.json()["message"]) == (404, "Not Found")


# --- Requests that GitHub refuses ---------------------------------------------------------


async def test_api_version_header(http: aiohttp.ClientSession) -> None:
    good = await call(http, "GET", "/users/ada", headers={"X-GitHub-Api-Version": "2022-11-28"})
    assert good.status == 200
    assert good.headers["x-github-api-version-selected"] == "2022-11-28"

    bad = await call(http, "GET", "/users/ada", headers={"X-GitHub-Api-Version": "2020-01-01"})
    assert bad.status == 400
    assert bad.json()["message"].startswith("Unsupported 'X-GitHub-Api-Version' header.")


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/repos/octo-org/hello/issues?per_page=abc", "per_page"),
        ("/repos/octo-org/hello/issues?state=bogus", "state"),
        ("/repos/octo-org/hello/issues/abc", "issue_number"),
    ],
)
async def test_parameters_are_validated_against_the_description(
    http: aiohttp.ClientSession, path: str, parameter: str
) -> None:
    answer = await call(http, "GET", path)
    assert answer.status == 400
    body = answer.json()
    assert parameter in body["message"]
    assert body["documentation_url"].startswith("https://docs.github.com/rest/issues/issues#")


async def test_bodies_are_validated_against_the_description(http: aiohttp.ClientSession) -> None:
    path = "/repos/octo-org/hello/issues"
    missing = await call(http, "POST", path, json={"body": "no title"})
    assert missing.status == 422
    assert missing.json() == {
        "message": "Validation Failed",
        "errors": [{"resource": "Issue", "field": "title", "code": "missing_field"}],
        "documentation_url": "https://docs.github.com/rest/issues/issues#create-an-issue",
    }

    wrong_type = await call(http, "POST", path, json={"title": "t", "labels": "bug"})
    assert wrong_type.status == 422
    assert wrong_type.json()["errors"][0] | {"message": ""} == {
        "resource": "Issue",
        "field": "labels",
        "code": "invalid",
        "message": "",
    }

    not_json = await call(
        http, "POST", path, data=b"{title", headers={"Content-Type": "text/plain"}
    )
    assert (not_json.status, not_json.json()["message"]) == (400, "Problems parsing JSON")


async def test_missing_search_query_is_422(http: aiohttp.ClientSession) -> None:
    answer = await call(http, "GET", "/search/issues")
    assert answer.status == 422
    assert answer.json()["errors"] == [{"resource": "Search", "field": "q", "code": "missing"}]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nope"),
        ("DELETE", "/repos/octo-org/hello"),
        ("GET", "/repos/octo-org/hello/issues/1/comments"),
    ],
)
async def test_unknown_routes_are_404(http: aiohttp.ClientSession, method: str, path: str) -> None:
    answer = await call(http, method, path)
    assert answer.status == 404
    assert answer.json() == {
        "message": "Not Found",
        "documentation_url": "https://docs.github.com/rest",
    }


@pytest.mark.parametrize(
    "path",
    [
        "/repos/octo-org/nope",
        "/repos/octo-org/hello/issues/999",
        "/repos/octo-org/hello/pulls/1",
        "/users/nobody",
        "/users/nobody/repos",
        "/orgs/ada/repos",
    ],
)
async def test_unknown_resources_are_404(http: aiohttp.ClientSession, path: str) -> None:
    answer = await call(http, "GET", path)
    assert answer.status == 404
    assert answer.json()["message"] == "Not Found"
    assert answer.json()["documentation_url"].startswith("https://docs.github.com/rest/")


# --- Pagination and caching ---------------------------------------------------------------


async def test_link_headers_walk_every_page(http: aiohttp.ClientSession) -> None:
    first = await call(http, "GET", "/repos/octo-org/hello/issues?state=all&per_page=50")
    assert set(first.links) == {"next", "last"}
    assert "state=all" in first.links["next"]
    assert first.links["last"].endswith("page=3")

    second = await call(http, "GET", first.links["next"])
    assert set(second.links) == {"prev", "next", "last", "first"}

    third = await call(http, "GET", second.links["next"])
    assert set(third.links) == {"prev", "first"}
    numbers = [issue["number"] for page in (first, second, third) for issue in page.json()]
    assert numbers == list(range(120, 0, -1))


async def test_per_page_defaults_to_30_and_is_clamped_to_100(http: aiohttp.ClientSession) -> None:
    default = await call(http, "GET", "/orgs/octo-org/repos")
    assert len(default.json()) == 30
    clamped = await call(http, "GET", "/orgs/octo-org/repos?per_page=500")
    assert len(clamped.json()) == 100
    assert clamped.links["last"].endswith("page=3")


async def test_single_page_has_no_link_header(http: aiohttp.ClientSession) -> None:
    answer = await call(http, "GET", "/repos/octo-org/hello/commits?per_page=100")
    assert len(answer.json()) == 40
    assert "Link" not in answer.headers


async def test_etag_revalidation_answers_304_without_spending_quota(
    http: aiohttp.ClientSession,
) -> None:
    fresh = await call(http, "GET", "/repos/octo-org/hello")
    etag = fresh.headers["ETag"]
    assert etag.startswith('W/"')

    cached = await call(http, "GET", "/repos/octo-org/hello", headers={"If-None-Match": etag})
    assert cached.status == 304
    assert cached.raw == b""
    assert cached.remaining == fresh.remaining
    assert cached.headers["x-ratelimit-reset"] == fresh.headers["x-ratelimit-reset"]

    changed = await call(http, "GET", "/repos/octo-org/hello", headers={"If-None-Match": 'W/"x"'})
    assert changed.status == 200
    assert changed.remaining == fresh.remaining - 1


# --- Rate limits --------------------------------------------------------------------------


async def test_every_answer_carries_rate_limit_headers(http: aiohttp.ClientSession) -> None:
    first = await call(http, "GET", "/users/ada")
    assert first.headers["x-ratelimit-limit"] == "5000"
    assert first.headers["x-ratelimit-used"] == "1"
    assert first.headers["x-ratelimit-resource"] == "core"
    assert first.remaining == 4999

    search = await call(http, "GET", "/search/repositories?q=fake")
    assert search.headers["x-ratelimit-resource"] == "search"
    assert search.headers["x-ratelimit-limit"] == "30"
    assert search.remaining == 29

    second = await call(http, "GET", "/users/ada")
    assert second.remaining == 4998


async def test_primary_rate_limit_until_the_window_resets(
    http: aiohttp.ClientSession, state: GitHubState, clock: FakeClock
) -> None:
    state.remaining = 1
    last = await call(http, "GET", "/users/ada")
    assert (last.status, last.remaining) == (200, 0)

    limited = await call(http, "GET", "/users/ada")
    assert limited.status == 403
    assert limited.remaining == 0
    assert limited.json()["message"].startswith("API rate limit exceeded for user ID 1.")
    assert limited.json()["documentation_url"] == (
        "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"
    )
    reset = int(limited.headers["x-ratelimit-reset"])
    assert reset == int(clock.time()) + 3600

    search = await call(http, "GET", "/search/issues?q=bug")
    assert search.status == 200, "search has a quota of its own"

    clock.advance(reset - clock.time())
    again = await call(http, "GET", "/users/ada")
    assert (again.status, again.remaining) == (200, 4999)


async def test_secondary_rate_limit(http: aiohttp.ClientSession, state: GitHubState) -> None:
    state.secondary_limit_next = 2
    for _ in range(2):
        limited = await call(http, "GET", "/users/ada")
        assert limited.status == 403
        assert limited.headers["retry-after"] == "60"
        assert limited.json()["message"].startswith("You have exceeded a secondary rate limit")
    assert (await call(http, "GET", "/users/ada")).status == 200


# --- Data ---------------------------------------------------------------------------------


async def test_issues_filter_by_state_and_labels_and_include_pulls(
    http: aiohttp.ClientSession,
) -> None:
    both = (
        await call(http, "GET", "/repos/octo-org/hello/issues?labels=bug,docs&state=all")
    ).json()
    assert [issue["number"] for issue in both] == [120, 108, 96, 84, 72, 60, 48, 36, 24, 12]
    assert all("pull_request" in issue for issue in both if issue["number"] % 5 == 0)
    assert all("pull_request" not in issue for issue in both if issue["number"] % 5)

    closed = (
        await call(http, "GET", "/repos/octo-org/hello/issues?state=closed&per_page=100")
    ).json()
    assert {issue["state"] for issue in closed} == {"closed"}
    opened = (await call(http, "GET", "/repos/octo-org/hello/issues?per_page=100")).json()
    assert {issue["state"] for issue in opened} == {"open"}
    assert len(opened) + len(closed) == 120
    assert len({issue["user"]["login"] for issue in opened + closed}) == 10


async def test_created_issue_and_comment(http: aiohttp.ClientSession) -> None:
    created = await call(
        http, "POST", "/repos/octo-org/hello/issues", json={"title": "New", "labels": ["bug"]}
    )
    assert created.status == 201
    issue = created.json()
    assert (issue["number"], issue["state"], issue["user"]["login"]) == (121, "open", "ada")
    assert created.headers["Location"] == issue["url"]

    comment = await call(
        http, "POST", "/repos/octo-org/hello/issues/121/comments", json={"body": "Hello"}
    )
    assert comment.status == 201
    assert comment.json()["body"] == "Hello"
    assert {"id", "user", "created_at"} <= set(comment.json())
    fetched = (await call(http, "GET", "/repos/octo-org/hello/issues/121")).json()
    assert (fetched["title"], fetched["comments"]) == ("New", 1)


async def test_pulls_and_commits(http: aiohttp.ClientSession) -> None:
    pulls = (await call(http, "GET", "/repos/octo-org/hello/pulls?state=all&per_page=100")).json()
    assert [pull["number"] for pull in pulls] == list(range(120, 0, -5))
    merged = (await call(http, "GET", "/repos/octo-org/hello/pulls/10")).json()
    assert (merged["state"], merged["merged"], merged["base"]["ref"]) == ("closed", True, "main")
    assert merged["head"]["ref"] == "feature-10"

    commits = (await call(http, "GET", "/repos/octo-org/hello/commits?per_page=100")).json()
    assert commits[0]["commit"]["message"] == "Commit number 39"
    assert commits[0]["parents"][0]["sha"] == commits[1]["sha"]
    by_sha = await call(http, "GET", f"/repos/octo-org/hello/commits/{commits[5]['sha'][:7]}")
    assert by_sha.json()["sha"] == commits[5]["sha"]
    unknown = await call(http, "GET", "/repos/octo-org/hello/commits/deadbeef")
    assert unknown.status == 422


async def test_search_results_and_the_1000_result_cap(
    http: aiohttp.ClientSession, state: GitHubState
) -> None:
    issues = (
        await call(http, "GET", "/search/issues?q=repo:octo-org/hello+is:pr+is:closed")
    ).json()
    assert issues["incomplete_results"] is False
    assert issues["total_count"] == len(issues["items"]) == 14  # 10, 20, ... 120, 35, 105

    for i in range(250, 1200):
        state.add_repo("octo-org", f"more-{i}", description="another fake one")
    page = await call(http, "GET", "/search/repositories?q=fake&per_page=100&page=10")
    assert page.status == 200
    assert page.json()["total_count"] == 1200
    assert "next" not in page.links, "the last page is the one that reaches 1000 results"

    beyond = await call(http, "GET", "/search/repositories?q=fake&per_page=100&page=11")
    assert beyond.status == 422
    assert beyond.json()["message"] == "Only the first 1000 search results are available"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/repos/octo-org/hello", None),
        ("GET", "/users/octo-org/repos?per_page=5", None),
        ("GET", "/orgs/octo-org/repos?per_page=5", None),
        ("GET", "/repos/octo-org/hello/issues?state=all&per_page=10", None),
        ("GET", "/repos/octo-org/hello/issues/10", None),
        ("POST", "/repos/octo-org/hello/issues", {"title": "t", "labels": [{"name": "bug"}]}),
        ("POST", "/repos/octo-org/hello/issues/1/comments", {"body": "b"}),
        ("GET", "/repos/octo-org/hello/pulls?state=all&per_page=10", None),
        ("GET", "/repos/octo-org/hello/pulls/10", None),
        ("GET", "/repos/octo-org/hello/commits?per_page=10", None),
        ("GET", "/repos/octo-org/hello/commits/main", None),
        ("GET", "/users/ada", None),
        ("GET", "/users/octo-org", None),
        ("GET", "/search/repositories?q=fake+language:go&sort=stars", None),
        ("GET", "/search/issues?q=label:bug+author:grace", None),
    ],
)
async def test_answers_match_the_published_schemas(
    http: aiohttp.ClientSession, method: str, path: str, body: Any
) -> None:
    answer = await call(http, method, path, json=body)
    assert answer.status in (200, 201)
    url = URL(path)
    request = MockRequest("https://api.github.com", method.lower(), url.path, args=dict(url.query))
    response = MockResponse(answer.raw, answer.status, headers=dict(answer.headers))
    result = openapi().unmarshal_response(request, response)
    assert result.errors == []
