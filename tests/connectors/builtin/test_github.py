"""The prebuilt GitHub connector against a fake that validates every request against
GitHub's own OpenAPI description."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connectql.connectors.builtin import builtin_spec
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec
from connectql.testing import FakeClock, FakeUpstream
from connectql.testing.fakes.github import GitHubState, create_github_app
from tests.connectors.builtin.contract import ConnectorContract
from tests.support import execute, serving

TOKEN = "ghp_test0123456789abcdefghijklmnopqrstu"
REPO = 'owner: "octo-org", repo: "hello"'
ISSUES = (
    f"{{ github {{ issues({REPO}, first: 50) {{ nodes {{ number author {{ login name }} }} }} }} }}"
)


class TestGitHubContract(ConnectorContract):
    name = "github"
    operations = (
        "repository",
        "userRepositories",
        "orgRepositories",
        "issues",
        "issue",
        "createIssue",
        "addComment",
        "pullRequests",
        "pullRequest",
        "commits",
        "commit",
        "user",
        "searchRepositories",
        "searchIssues",
    )
    auth_query = '{ github { user(login: "ada") { login } } }'

    def operation_queries(self) -> dict[str, str]:
        sha = self.state.commits["octo-org/hello"][0]["sha"]
        return {
            "repository": '{ github { repository(owner: "octo-org", name: "hello") '
            "{ fullName stars owner { login } } } }",
            "userRepositories": '{ github { userRepositories(username: "ada", first: 5) '
            "{ nodes { name } } } }",
            "orgRepositories": '{ github { orgRepositories(org: "octo-org", first: 5) '
            "{ nodes { fullName } } } }",
            "issues": f'{{ github {{ issues({REPO}, first: 5, state: OPEN, labels: ["bug"]) '
            "{ nodes { number title state labels } } } }",
            "issue": f"{{ github {{ issue({REPO}, number: 3) {{ number title labels }} }} }}",
            "createIssue": f"mutation {{ github {{ createIssue({REPO}, input: "
            '{title: "New bug", body: "It broke", labels: ["bug"]}) { number title } } }',
            "addComment": f'mutation {{ github {{ addComment({REPO}, number: 3, body: "Same here") '
            "{ id body } } }",
            "pullRequests": f"{{ github {{ pullRequests({REPO}, first: 5, state: ALL) "
            "{ nodes { number headRef baseRef merged } } } }",
            "pullRequest": f"{{ github {{ pullRequest({REPO}, number: 10) "
            "{ number merged } } }",
            "commits": f"{{ github {{ commits({REPO}, first: 5) "
            "{ nodes { sha message } } } }",
            "commit": f'{{ github {{ commit({REPO}, ref: "{sha}") {{ sha authorName }} }} }}',
            "user": '{ github { user(login: "ada") { login name } } }',
            "searchRepositories": '{ github { searchRepositories(query: "fake", first: 5) '
            "{ nodes { fullName } } } }",
            "searchIssues": '{ github { searchIssues(query: "bug", first: 5) '
            "{ nodes { number } } } }",
        }

    @contextlib.asynccontextmanager
    async def fake(self) -> AsyncIterator[FakeUpstream]:
        self.state = GitHubState.seeded(tokens={TOKEN})
        async with FakeUpstream(create_github_app(self.state)) as upstream:
            yield upstream

    def config(self, fake: FakeUpstream) -> dict[str, Any]:
        return {"base_url": fake.url, "token": TOKEN}

    def wrong_config(self, fake: FakeUpstream) -> dict[str, Any]:
        return {"base_url": fake.url, "token": "ghp_wrong0123456789abcdefghijklmnopq"}

    def secrets(self) -> list[str]:
        return [TOKEN, "ghp_wrong0123456789abcdefghijklmnopq"]

    async def check_pagination(self, url: str, fake: FakeUpstream) -> None:
        query = (
            f"{{ github {{ issues({REPO}, state: ALL, first: 1000) "
            "{ nodes { number } pageInfo { hasNextPage } } } }"
        )
        result = await execute(url, query)
        issues = result.data["github"]["issues"]
        assert [n["number"] for n in issues["nodes"]] == [
            n for n in range(120, 0, -1) if n % 5
        ]  # newest first, pull requests filtered out
        assert issues["pageInfo"]["hasNextPage"] is False
        assert fake.count("GET", "/repos/octo-org/hello/issues") == 2  # per_page=100: 100 + 20

    async def check_rate_limit(self, url: str, fake: FakeUpstream) -> None:
        self.state.secondary_limit_next = 1
        self.state.secondary_retry_after = 1
        result = await execute(url, '{ github { user(login: "grace") { login } } }')
        assert result.errors is None  # waited Retry-After: 1, then succeeded
        assert fake.count("GET", "/users/grace") == 2

    async def check_batching(self, url: str, fake: FakeUpstream) -> None:
        result = await execute(url, ISSUES)
        assert result.errors is None
        nodes = result.data["github"]["issues"]["nodes"]
        assert len(nodes) == 50
        authors = {n["author"]["login"] for n in nodes}
        assert len(authors) == 8  # issues cycle over 10 authors; 2 of them only open PRs
        user_calls = sum(1 for r in fake.requests if r.path.startswith("/users/"))
        assert user_calls == len(authors)  # one per distinct author, not one per issue
        assert fake.count("GET", "/repos/octo-org/hello/issues") == 1


@contextlib.asynccontextmanager
async def github(state: GitHubState, config: dict[str, Any], clock: FakeClock | None = None):
    async with FakeUpstream(create_github_app(state)) as fake:
        runtime = Runtime(clock=clock)
        runtime.add(load_spec(builtin_spec("github")), {"base_url": fake.url, **config})
        async with serving(runtime) as url:
            yield url, fake


async def test_validation_failed_becomes_field_errors() -> None:
    state = GitHubState.seeded(tokens={TOKEN})
    async with github(state, {"token": TOKEN}) as (url, _):
        result = await execute(
            url,
            f'mutation {{ github {{ createIssue({REPO}, input: {{title: ""}}) {{ number }} }} }}',
        )
    error = result.errors[0]
    assert error["extensions"]["code"] == "VALIDATION_FAILED"
    assert error["message"] == "Validation Failed"
    assert error["extensions"]["details"][0]["field"] == "title"
    assert error["extensions"]["httpStatus"] == 422


async def test_an_exhausted_quota_fails_fast_with_its_reset_time() -> None:
    clock = FakeClock(start=1_750_000_000.0)
    state = GitHubState.seeded(tokens={TOKEN}, now=clock.time)
    state.remaining = 1
    async with github(state, {"token": TOKEN}, clock) as (url, fake):
        first = await execute(url, '{ github { user(login: "ada") { login } } }')
        assert first.errors is None  # the last request of the window
        refused = await execute(url, '{ github { user(login: "grace") { login } } }')
        error = refused.errors[0]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert error["extensions"]["resetAt"].startswith("2025-06-15")
        calls = fake.count()
        again = await execute(url, '{ github { user(login: "linus") { login } } }')
        assert again.errors[0]["extensions"]["code"] == "RATE_LIMITED"
        assert fake.count() == calls  # no call was made while the quota is used up


async def test_a_quota_that_resets_soon_is_waited_for() -> None:
    clock = FakeClock(start=1_750_000_000.0)
    state = GitHubState.seeded(tokens={TOKEN}, now=clock.time)
    state.remaining = 0
    state.rate_limit_reset = clock.time() + 30
    async with github(state, {"token": TOKEN}, clock) as (url, fake):
        result = await execute(url, '{ github { user(login: "ada") { login } } }')
        waited = [s for s in clock.sleeps if s > 1]
    assert result.errors is None
    assert waited
    assert waited[0] <= 30
    assert fake.count("GET", "/users/ada") == 2  # refused once, then after the reset


async def test_conditional_requests_are_served_from_the_cache() -> None:
    state = GitHubState.seeded(tokens={TOKEN})
    async with github(state, {"token": TOKEN}) as (url, fake):
        query = '{ github { repository(owner: "octo-org", name: "hello") { fullName } } }'
        first = await execute(url, query)
        before = state.remaining
        second = await execute(url, query)
        conditional = fake.requests[-1]
    assert first.data == second.data
    assert conditional.headers.get("If-None-Match", "").startswith('W/"')
    assert state.remaining == before  # a 304 costs no quota


async def test_github_app_installation_tokens() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    clock = FakeClock(start=1_750_000_000.0)
    state = GitHubState.seeded(app_id=4242, app_public_key_pem=public, now=clock.time)
    config = {"app_id": "4242", "installation_id": "1", "private_key": private}
    async with github(state, config, clock) as (url, _):
        assert (await execute(url, '{ github { user(login: "ada") { login } } }')).errors is None
        assert (await execute(url, '{ github { user(login: "grace") { login } } }')).errors is None
        assert state.installation_tokens_issued == 1  # cached
        clock.advance(3600 - 200)  # within the refresh margin: a new token before expiry
        result = await execute(url, '{ github { user(login: "linus") { login } } }')
        assert result.errors is None
        assert state.installation_tokens_issued == 2
        leaked = str(result.data) + str(result.errors)
    assert "PRIVATE KEY" not in leaked


async def test_search_stops_at_the_1000_result_cap() -> None:
    state = GitHubState.seeded(tokens={TOKEN}, n_repos=1100)
    state.search_remaining = state.search_rate_limit = 100
    async with github(state, {"token": TOKEN}) as (url, fake):
        result = await execute(
            url, '{ github { searchRepositories(query: "fake", first: 1000) { nodes { name } } } }'
        )
    assert result.errors is None
    assert len(result.data["github"]["searchRepositories"]["nodes"]) == 1000
    assert fake.count("GET", "/search/repositories") == 10
