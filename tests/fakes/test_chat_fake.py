"""The chat fake behaves like a Slack-style Web API, and its spec answers many profile
lookups in one request with one multi-get."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connectql.runtime import Runtime
from connectql.spec.loader import load_spec
from connectql.testing import FakeUpstream, Fault
from tests.fakes.chat import CHAT_TOKEN, MAX_EMAILS, ChatState, create_chat_app
from tests.fakes.tracker import TRACKER_TOKEN, Person, TrackerData, create_tracker_app
from tests.processes import run_cli
from tests.support import execute, serving

SPEC = Path(__file__).parent / "data" / "chat.yaml"
TRACKER_SPEC = Path(__file__).parent / "data" / "tracker.yaml"
AUTH = {"Authorization": f"Bearer {CHAT_TOKEN}"}
PEOPLE = TrackerData().people()


@pytest.fixture
async def chat() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(create_chat_app(ChatState.seeded())) as upstream:
        yield upstream


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession,
    chat: FakeUpstream,
    method: str,
    *,
    headers: dict[str, str] | None = None,
    **params: Any,
) -> dict[str, Any]:
    """GET a method; Slack answers 200 whatever happened."""
    async with http.get(
        f"{chat.url}/{method}", params=params, headers=AUTH if headers is None else headers
    ) as r:
        assert r.status == 200
        return await r.json()  # type: ignore[no-any-return]


def runtime_for(chat: FakeUpstream, token: str = CHAT_TOKEN) -> Runtime:
    runtime = Runtime()
    runtime.set_connectors([(load_spec(SPEC), {"base_url": chat.url, "token": token})])
    return runtime


# --- auth ---


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        pytest.param({}, "not_authed", id="no-token"),
        pytest.param({"Authorization": "Bearer "}, "not_authed", id="empty-bearer"),
        pytest.param({"Authorization": "Bearer xoxb-nope"}, "invalid_auth", id="bad-token"),
    ],
)
async def test_missing_or_bad_tokens_are_ok_false_on_200(
    http: aiohttp.ClientSession, chat: FakeUpstream, headers: dict[str, str], error: str
) -> None:
    answer = await call(http, chat, "users.lookupByEmail", headers=headers, email=PEOPLE[0].email)
    assert answer == {"ok": False, "error": error}
    assert chat.count("GET", "/users.lookupByEmail") == 1


async def test_the_token_may_come_as_an_argument(
    http: aiohttp.ClientSession, chat: FakeUpstream
) -> None:
    answer = await call(
        http, chat, "users.lookupByEmail", headers={}, email=PEOPLE[0].email, token=CHAT_TOKEN
    )
    assert answer["ok"] is True
    async with http.post(
        f"{chat.url}/users.lookupByEmail", data={"token": CHAT_TOKEN, "email": PEOPLE[1].email}
    ) as r:
        assert (await r.json())["user"]["name"] == PEOPLE[1].login


async def test_an_unknown_method_is_unknown_method(
    http: aiohttp.ClientSession, chat: FakeUpstream
) -> None:
    answer = await call(http, chat, "users.nope")
    assert answer == {"ok": False, "error": "unknown_method", "req_method": "users.nope"}


# --- lookups ---


async def test_lookup_by_email_answers_slacks_user_object(
    http: aiohttp.ClientSession, chat: FakeUpstream
) -> None:
    ada = PEOPLE[0]
    answer = await call(http, chat, "users.lookupByEmail", email=ada.email.upper())
    assert answer["ok"] is True
    user = answer["user"]
    assert user["id"].startswith("U")
    assert user["name"] == ada.login
    assert {k: user["profile"][k] for k in ("email", "real_name", "title")} == {
        "email": ada.email,
        "real_name": ada.name,
        "title": ada.title,
    }


@pytest.mark.parametrize(
    ("params", "answer"),
    [
        pytest.param(
            {"email": "nobody@acme.test"},
            {"ok": False, "error": "users_not_found"},
            id="unknown",
        ),
        pytest.param(
            {},
            {
                "ok": False,
                "error": "invalid_arguments",
                "response_metadata": {"messages": ["[ERROR] missing required field: email"]},
            },
            id="missing",
        ),
    ],
)
async def test_lookup_by_email_errors(
    http: aiohttp.ClientSession, chat: FakeUpstream, params: dict[str, Any], answer: Any
) -> None:
    assert await call(http, chat, "users.lookupByEmail", **params) == answer


async def test_every_tracker_author_has_a_profile(
    http: aiohttp.ClientSession, chat: FakeUpstream
) -> None:
    for person in PEOPLE:
        answer = await call(http, chat, "users.lookupByEmail", email=person.email)
        assert answer["user"]["profile"]["real_name"] == person.name
    assert len({p.email for p in PEOPLE}) == 8


async def test_the_seed_follows_other_tracker_sizes(http: aiohttp.ClientSession) -> None:
    data = TrackerData(issues=5, authors=20)
    stranger = Person("zoe", "Zoe Stranger", "zoe@elsewhere.test", "Contractor")
    async with FakeUpstream(create_chat_app(ChatState.seeded(data, extra=[stranger]))) as chat:
        emails = ",".join([*(p.email for p in data.people()), stranger.email])
        answer = await call(http, chat, "users.lookupByEmails", emails=emails)
    assert len(answer["users"]) == 21


async def test_the_multi_get_answers_known_emails_in_its_own_order(
    http: aiohttp.ClientSession, chat: FakeUpstream
) -> None:
    asked = [PEOPLE[3].email, "nobody@acme.test", PEOPLE[0].email, PEOPLE[5].email, PEOPLE[0].email]
    answer = await call(http, chat, "users.lookupByEmails", emails=",".join(asked))
    assert answer["ok"] is True
    emails = [u["profile"]["email"] for u in answer["users"]]
    assert sorted(emails) == sorted({PEOPLE[3].email, PEOPLE[0].email, PEOPLE[5].email})
    assert chat.count("GET", "/users.lookupByEmails") == 1


@pytest.mark.parametrize(
    ("emails", "message"),
    [
        pytest.param(None, "missing required field: emails", id="missing"),
        pytest.param(
            ",".join(f"u{i}@acme.test" for i in range(MAX_EMAILS + 1)),
            f"at most {MAX_EMAILS} emails may be asked for",
            id="101",
        ),
    ],
)
async def test_the_multi_get_refuses_none_or_too_many(
    http: aiohttp.ClientSession, chat: FakeUpstream, emails: str | None, message: str
) -> None:
    params: dict[str, Any] = {} if emails is None else {"emails": emails}
    answer = await call(http, chat, "users.lookupByEmails", **params)
    assert answer == {
        "ok": False,
        "error": "invalid_arguments",
        "response_metadata": {"messages": [f"[ERROR] {message}"]},
    }


# --- the spec, through connectql ---


def test_the_spec_validates_with_the_cli(tmp_path: Path) -> None:
    done = run_cli("validate", str(SPEC), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "ok (chat, 1 operations)" in done.stdout


def test_the_spec_loads_and_maps_ok_false_as_the_slack_connector_does() -> None:
    spec = load_spec(SPEC)
    assert spec.name == "chat"
    assert spec.secret_keys() == {"token"}
    rules = spec.source.body_errors
    assert rules is not None
    assert (rules.when.path, rules.when.equals, rules.code_path) == ("ok", False, "error")
    assert {"not_authed", "invalid_auth"} <= set(rules.auth_codes)
    assert rules.not_found_codes == ["users_not_found"]


async def test_eight_profiles_in_one_query_take_one_batch_call(chat: FakeUpstream) -> None:
    fields = " ".join(
        f'p{i}: profileByEmail(email: "{p.email}") {{ email realName title id name }}'
        for i, p in enumerate(PEOPLE)
    )
    async with serving(runtime_for(chat)) as url:
        result = await execute(url, f"{{ chat {{ {fields} }} }}")
    assert result.errors is None
    for i, person in enumerate(PEOPLE):
        profile = result.data["chat"][f"p{i}"]
        assert profile["id"].startswith("U")
        assert {k: profile[k] for k in ("email", "realName", "title", "name")} == {
            "email": person.email,
            "realName": person.name,
            "title": person.title,
            "name": person.login,
        }
    assert chat.count("GET", "/users.lookupByEmails") == 1
    assert chat.count() == 1
    (batch,) = chat.requests
    assert sorted(batch.query["emails"].split(",")) == sorted(p.email for p in PEOPLE)


async def test_an_unknown_email_is_null_beside_known_ones(chat: FakeUpstream) -> None:
    query = f"""{{ chat {{
        a: profileByEmail(email: "{PEOPLE[0].email}") {{ name }}
        b: profileByEmail(email: "nobody@acme.test") {{ name }} }} }}"""
    async with serving(runtime_for(chat)) as url:
        result = await execute(url, query)
    assert result.errors is None
    assert result.data == {"chat": {"a": {"name": PEOPLE[0].login}, "b": None}}
    assert chat.count() == 1


@pytest.mark.parametrize(
    ("token", "upstream_code"),
    [
        pytest.param("xoxb-nope", "invalid_auth", id="invalid-auth"),
        pytest.param(" ", "not_authed", id="not-authed"),
    ],
)
async def test_ok_false_auth_codes_are_unauthenticated_errors(
    chat: FakeUpstream, token: str, upstream_code: str
) -> None:
    query = f'{{ chat {{ profileByEmail(email: "{PEOPLE[0].email}") {{ name }} }} }}'
    async with serving(runtime_for(chat, token)) as url:
        result = await execute(url, query)
    (error,) = result.errors
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["extensions"]["upstreamCode"] == upstream_code
    assert error["extensions"]["connector"] == "chat"
    assert result.data == {"chat": {"profileByEmail": None}}


async def test_ok_false_rate_limiting_is_retried(chat: FakeUpstream) -> None:
    chat.faults.add(
        Fault(
            status=429,
            headers={"Retry-After": "0", "Content-Type": "application/json"},
            body='{"ok": false, "error": "ratelimited"}',
        ),
        times=1,
    )
    query = f'{{ chat {{ profileByEmail(email: "{PEOPLE[0].email}") {{ name }} }} }}'
    async with serving(runtime_for(chat)) as url:
        result = await execute(url, query)
    assert result.errors is None
    assert result.data == {"chat": {"profileByEmail": {"name": PEOPLE[0].login}}}
    assert chat.count("GET", "/users.lookupByEmails") == 2


async def test_every_issue_author_in_the_tracker_has_a_chat_profile(chat: FakeUpstream) -> None:
    """Both connectors side by side: the seeds agree, and each side batches once."""
    async with FakeUpstream(create_tracker_app()) as tracker:
        runtime = Runtime()
        runtime.set_connectors(
            [
                (load_spec(TRACKER_SPEC), {"base_url": tracker.url, "token": TRACKER_TOKEN}),
                (load_spec(SPEC), {"base_url": chat.url, "token": CHAT_TOKEN}),
            ]
        )
        async with serving(runtime) as url:
            issues = await execute(
                url,
                '{ tracker { issues(owner: "acme", repo: "widgets", first: 50) '
                "{ nodes { author { email } } } } }",
            )
            emails = sorted(
                {n["author"]["email"] for n in issues.data["tracker"]["issues"]["nodes"]}
            )
            fields = " ".join(
                f'p{i}: profileByEmail(email: "{email}") {{ email }}'
                for i, email in enumerate(emails)
            )
            profiles = await execute(url, f"{{ chat {{ {fields} }} }}")
    assert issues.errors is None
    assert profiles.errors is None
    assert len(emails) == 8
    assert [profiles.data["chat"][f"p{i}"]["email"] for i in range(8)] == emails
    assert (tracker.count(), chat.count()) == (2, 1)
