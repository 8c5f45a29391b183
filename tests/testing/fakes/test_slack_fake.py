"""The Slack fake behaves like the Slack Web API, checked with a plain aiohttp client."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from connectql.testing import FakeClock, FakeUpstream
from connectql.testing.fakes.slack import (
    BOT_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    SlackState,
    create_slack_app,
)

AUTH = {"Authorization": f"Bearer {BOT_TOKEN}"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1_800_000_000.0)


@pytest.fixture
def state(clock: FakeClock) -> SlackState:
    return SlackState.seeded(now=clock.time)


@pytest.fixture
async def slack(state: SlackState) -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(create_slack_app(state)) as upstream:
        yield upstream


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


class Api:
    """Calls `<fake>/api/<method>` the way Slack clients do and returns the decoded answer."""

    def __init__(self, http: aiohttp.ClientSession, slack: FakeUpstream) -> None:
        self.http = http
        self.base = f"{slack.url}/api"

    async def form(self, method: str, token: str | None = BOT_TOKEN, **data: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.post(f"{self.base}/{method}", data=data, headers=headers) as r:
            assert r.status == 200
            return await r.json()  # type: ignore[no-any-return]

    async def get(self, method: str, **params: Any) -> dict[str, Any]:
        async with self.http.get(f"{self.base}/{method}", params=params, headers=AUTH) as r:
            assert r.status == 200
            return await r.json()  # type: ignore[no-any-return]

    async def json(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        headers = {**AUTH, "Content-Type": "application/json; charset=utf-8"}
        async with self.http.post(f"{self.base}/{method}", json=body, headers=headers) as r:
            assert r.status == 200
            return await r.json()  # type: ignore[no-any-return]


@pytest.fixture
def api(http: aiohttp.ClientSession, slack: FakeUpstream) -> Api:
    return Api(http, slack)


def channel_id(state: SlackState, name: str) -> str:
    return str(next(c["id"] for c in state.channels if c["name"] == name))


# --- auth ---


async def test_a_call_without_a_token_is_not_authed(api: Api) -> None:
    assert await api.form("auth.test", token=None) == {"ok": False, "error": "not_authed"}


async def test_an_unknown_token_is_invalid_auth(api: Api) -> None:
    answer = await api.form("auth.test", token="xoxb-nope")
    assert answer == {"ok": False, "error": "invalid_auth"}


async def test_a_token_expires_when_the_clock_passes_its_expiry(
    api: Api, state: SlackState, clock: FakeClock
) -> None:
    state.tokens["xoxe.xoxb-short"] = clock.time() + 60
    assert (await api.form("auth.test", token="xoxe.xoxb-short"))["ok"] is True
    clock.advance(60)
    answer = await api.form("auth.test", token="xoxe.xoxb-short")
    assert answer == {"ok": False, "error": "token_expired"}


async def test_the_token_may_come_as_a_form_or_query_argument(api: Api) -> None:
    url = f"{api.base}/auth.test"
    async with api.http.post(url, data={"token": BOT_TOKEN}) as r:
        assert (await r.json())["ok"] is True
    async with api.http.get(url, params={"token": BOT_TOKEN}) as r:
        assert (await r.json())["ok"] is True


async def test_a_json_body_cannot_carry_the_token(api: Api) -> None:
    url = f"{api.base}/chat.postMessage"
    body = {"token": BOT_TOKEN, "channel": "#general", "text": "hi"}
    async with api.http.post(url, json=body) as r:
        assert (await r.json())["error"] == "not_authed"


# --- token rotation ---


async def refresh(api: Api, refresh_token: str, /, **overrides: str) -> dict[str, Any]:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        **overrides,
    }
    return await api.form("oauth.v2.access", token=None, **form)


async def test_a_refresh_token_buys_a_working_token_once(
    api: Api, state: SlackState, clock: FakeClock
) -> None:
    grant = await refresh(api, REFRESH_TOKEN)
    assert grant["ok"] is True
    assert grant["access_token"].startswith("xoxe.xoxb-")
    assert grant["refresh_token"].startswith("xoxe-1-")
    assert grant["token_type"] == "bot"
    assert grant["expires_in"] == state.token_ttl == 43_200
    assert grant["bot_user_id"] == state.bot_user_id
    assert grant["team"]["id"] == state.team["id"]
    assert (await api.form("auth.test", token=grant["access_token"]))["ok"] is True

    again = await refresh(api, REFRESH_TOKEN)
    assert again == {"ok": False, "error": "invalid_refresh_token"}

    second = await refresh(api, grant["refresh_token"])
    assert second["ok"] is True
    assert second["access_token"] != grant["access_token"]
    assert [g.refresh_token for g in state.grants] == [REFRESH_TOKEN, grant["refresh_token"]]

    clock.advance(state.token_ttl)
    answer = await api.form("auth.test", token=second["access_token"])
    assert answer["error"] == "token_expired"


async def test_client_credentials_may_come_as_http_basic(api: Api) -> None:
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    form = {"grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN}
    headers = {"Authorization": f"Basic {basic}"}
    async with api.http.post(f"{api.base}/oauth.v2.access", data=form, headers=headers) as r:
        assert (await r.json())["ok"] is True


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ({"client_id": "123.456"}, "invalid_client_id"),
        ({"client_secret": "wrong"}, "bad_client_secret"),
        ({"refresh_token": "xoxe-1-never-issued"}, "invalid_refresh_token"),
    ],
)
async def test_a_refresh_with_wrong_credentials_fails(
    api: Api, state: SlackState, override: dict[str, str], error: str
) -> None:
    assert await refresh(api, REFRESH_TOKEN, **override) == {"ok": False, "error": error}
    assert state.grants == []


# --- pagination and reads ---


async def test_conversations_list_pages_through_every_visible_channel(
    api: Api, state: SlackState
) -> None:
    seen: list[str] = []
    cursors: list[str] = []
    cursor = ""
    while True:
        answer = await api.form(
            "conversations.list", types="public_channel,private_channel", limit=4, cursor=cursor
        )
        assert answer["ok"] is True
        seen += [c["id"] for c in answer["channels"]]
        cursor = answer["response_metadata"]["next_cursor"]
        if not cursor:
            break
        cursors.append(cursor)
    assert len(cursors) == 2
    assert all(base64.b64decode(c).startswith(b"team:") for c in cursors)
    invisible = channel_id(state, "incidents")  # private, and the bot is not a member
    assert seen == [c["id"] for c in state.channels if c["id"] != invisible]


async def test_conversations_list_filters_types_and_archived(api: Api) -> None:
    public = await api.get("conversations.list")
    assert {c["is_private"] for c in public["channels"]} == {False}
    assert len(public["channels"]) == 9
    active = await api.get("conversations.list", exclude_archived="true")
    assert len(active["channels"]) == 8
    assert (await api.get("conversations.list", types="dm"))["error"] == "invalid_types"
    assert (await api.get("conversations.list", cursor="bm9wZQ=="))["error"] == "invalid_cursor"


async def test_history_pages_newest_first_until_an_empty_cursor(
    api: Api, state: SlackState
) -> None:
    general = channel_id(state, "general")
    messages: list[dict[str, Any]] = []
    cursor = ""
    pages = 0
    while True:
        answer = await api.get("conversations.history", channel=general, cursor=cursor)
        pages += 1
        messages += answer["messages"]
        cursor = answer["response_metadata"]["next_cursor"]
        assert answer["has_more"] is bool(cursor)
        if not cursor:
            break
    assert pages == 3
    assert len(messages) == 250
    assert len({m["user"] for m in messages}) == 8
    assert messages[0]["ts"] > messages[-1]["ts"] == "1700000000.000100"
    assert messages[0] == {
        "type": "message",
        "user": messages[0]["user"],
        "text": "Message 250 in #general",
        "ts": "1700014940.000100",
        "team": state.team["id"],
    }


async def test_history_honours_oldest_latest_and_limit(api: Api, state: SlackState) -> None:
    general = channel_id(state, "general")
    window = {"oldest": "1700000000.000100", "latest": "1700000300.000100"}
    answer = await api.form("conversations.history", channel=general, **window)
    assert [m["ts"] for m in answer["messages"]] == [
        "1700000240.000100",
        "1700000180.000100",
        "1700000120.000100",
        "1700000060.000100",
    ]
    inclusive = await api.form("conversations.history", channel=general, inclusive=1, **window)
    assert len(inclusive["messages"]) == 6
    capped = await api.form("conversations.history", channel=general, limit=5000)
    assert len(capped["messages"]) == 250


async def test_history_errors(api: Api, state: SlackState) -> None:
    assert (await api.form("conversations.history"))["error"] == "channel_not_found"
    assert (await api.form("conversations.history", channel="C0NOPE"))["error"] == (
        "channel_not_found"
    )
    general = channel_id(state, "general")
    bad_ts = await api.form("conversations.history", channel=general, oldest="soon")
    assert bad_ts["error"] == "invalid_ts_oldest"
    outside = channel_id(state, "engineering")
    assert (await api.form("conversations.history", channel=outside))["error"] == ("not_in_channel")


async def test_users_list_pages_and_users_info_looks_up(api: Api, state: SlackState) -> None:
    ids: list[str] = []
    cursor = ""
    while True:
        answer = await api.get("users.list", limit=7, cursor=cursor)
        ids += [m["id"] for m in answer["members"]]
        cursor = answer["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert ids == [u["id"] for u in state.users]
    assert len(ids) == 30

    user = (await api.get("users.info", user=ids[0]))["user"]
    assert set(user) >= {"id", "name", "real_name", "is_bot", "profile"}
    assert set(user["profile"]) >= {"display_name", "email", "image_72"}
    bot = (await api.get("users.info", user=state.bot_user_id))["user"]
    assert bot["is_bot"] is True
    missing = await api.get("users.info", user="U0NOPE")
    assert missing == {"ok": False, "error": "user_not_found"}


# --- rate limits ---


@pytest.mark.parametrize(
    ("method", "retry_after"),
    [
        ("conversations.list", "20"),
        ("conversations.history", "3"),
        ("users.info", "1"),
        ("chat.postMessage", "1"),
    ],
)
async def test_a_rate_limited_method_answers_429_with_its_tiers_retry_after(
    api: Api, state: SlackState, method: str, retry_after: str
) -> None:
    state.rate_limited[method] = 2
    for _ in range(2):
        async with api.http.post(f"{api.base}/{method}", headers=AUTH) as r:
            assert r.status == 429
            assert r.headers["Retry-After"] == retry_after
            assert await r.json() == {"ok": False, "error": "ratelimited"}
    async with api.http.post(f"{api.base}/{method}", headers=AUTH) as r:
        assert r.status == 200
    assert state.rate_limited[method] == 0


async def test_a_method_moved_to_tier_1_waits_a_minute(api: Api, state: SlackState) -> None:
    state.tiers["conversations.history"] = 1
    state.rate_limited["conversations.history"] = 1
    async with api.http.get(f"{api.base}/conversations.history", headers=AUTH) as r:
        assert (r.status, r.headers["Retry-After"]) == (429, "60")


# --- chat.postMessage ---


async def test_post_message_as_json_lands_in_history(api: Api, state: SlackState) -> None:
    general = channel_id(state, "general")
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    body = {"channel": general, "text": "hi", "blocks": blocks}
    answer = await api.json("chat.postMessage", body)
    assert answer["ok"] is True
    assert answer["channel"] == general
    assert answer["message"]["blocks"] == blocks
    assert answer["message"]["user"] == state.bot_user_id
    newest = (await api.get("conversations.history", channel=general, limit=1))["messages"][0]
    assert newest["ts"] == answer["ts"]
    assert newest["ts"] > "1700014940.000100"


async def test_post_message_as_a_form_takes_a_channel_name(api: Api, state: SlackState) -> None:
    blocks = '[{"type": "divider"}]'
    answer = await api.form("chat.postMessage", channel="#random", blocks=blocks)
    assert answer["ok"] is True
    assert answer["channel"] == channel_id(state, "random")
    assert answer["message"]["blocks"] == [{"type": "divider"}]


async def test_json_without_a_charset_gets_slacks_warning(api: Api) -> None:
    body = {"channel": "#general", "text": "hi"}
    async with api.http.post(f"{api.base}/chat.postMessage", json=body, headers=AUTH) as r:
        answer = await r.json()
    assert answer["ok"] is True
    assert answer["warning"] == "missing_charset"
    assert answer["response_metadata"] == {"warnings": ["missing_charset"]}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"channel": "C0NOPE", "text": "hi"}, "channel_not_found"),
        ({"channel": "#incidents", "text": "hi"}, "channel_not_found"),
        ({"channel": "#general"}, "no_text"),
        ({"channel": "#engineering", "text": "hi"}, "not_in_channel"),
        ({"channel": "#general", "text": "x" * 40_001}, "msg_too_long"),
    ],
)
async def test_post_message_errors(api: Api, body: dict[str, Any], error: str) -> None:
    assert await api.json("chat.postMessage", body) == {"ok": False, "error": error}


async def test_a_40000_character_message_is_fine(api: Api) -> None:
    answer = await api.form("chat.postMessage", channel="#general", text="x" * 40_000)
    assert answer["ok"] is True


# --- file upload ---


async def reserve(api: Api, length: int, filename: str = "report.csv") -> dict[str, Any]:
    answer = await api.form("files.getUploadURLExternal", filename=filename, length=length)
    assert answer["ok"] is True
    return answer


async def test_the_three_step_upload_shares_the_file(
    api: Api, slack: FakeUpstream, state: SlackState
) -> None:
    data = b"id,name\n1,Ada\n"
    reserved = await reserve(api, len(data))
    file_id = reserved["file_id"]
    assert file_id.startswith("F")
    assert reserved["upload_url"] == f"{slack.url}/upload/{file_id}"

    async with api.http.post(reserved["upload_url"], data=data) as r:
        assert (r.status, await r.text()) == (200, f"OK - {len(data)}")

    general = channel_id(state, "general")
    files = [{"id": file_id, "title": "Report"}]
    done = await api.json("files.completeUploadExternal", {"files": files, "channel_id": general})
    assert done["ok"] is True
    [shared] = done["files"]
    assert (shared["id"], shared["name"], shared["title"], shared["size"]) == (
        file_id,
        "report.csv",
        "Report",
        len(data),
    )
    assert shared["channels"] == [general]
    assert state.files[file_id].data == data
    newest = (await api.get("conversations.history", channel=general, limit=1))["messages"][0]
    assert newest["files"][0]["id"] == file_id


async def test_upload_by_multipart_and_complete_by_form(api: Api, state: SlackState) -> None:
    data = bytes(range(256)) * 4
    reserved = await reserve(api, len(data), "blob.bin")
    form = aiohttp.FormData()
    form.add_field("file", data, filename="blob.bin")
    async with api.http.post(reserved["upload_url"], data=form) as r:
        assert (r.status, await r.text()) == (200, f"OK - {len(data)}")
    files = f'[{{"id": "{reserved["file_id"]}"}}]'
    done = await api.form("files.completeUploadExternal", files=files)
    assert done["ok"] is True
    assert done["files"][0]["title"] == "blob.bin"
    assert done["files"][0]["channels"] == []
    assert state.files[reserved["file_id"]].data == data


async def test_an_upload_whose_length_differs_from_the_declared_one_is_refused(
    api: Api, state: SlackState
) -> None:
    reserved = await reserve(api, 10)
    async with api.http.post(reserved["upload_url"], data=b"too short") as r:
        assert r.status == 400
    assert state.files[reserved["file_id"]].data is None
    files = f'[{{"id": "{reserved["file_id"]}"}}]'
    done = await api.form("files.completeUploadExternal", files=files)
    assert done == {"ok": False, "error": "file_not_found"}


async def test_completing_an_unknown_file_fails(api: Api) -> None:
    done = await api.json("files.completeUploadExternal", {"files": [{"id": "F0NOPE"}]})
    assert done == {"ok": False, "error": "file_not_found"}


async def test_get_upload_url_needs_filename_and_length(api: Api) -> None:
    answer = await api.get("files.getUploadURLExternal", filename="a.txt")
    assert answer["error"] == "invalid_arguments"
    reserved = await api.get("files.getUploadURLExternal", filename="a.txt", length=3)
    assert reserved["ok"] is True


# --- the rest ---


async def test_an_unknown_method_is_unknown_method(api: Api) -> None:
    answer = await api.form("channels.history")
    assert answer["ok"] is False
    assert answer["error"] == "unknown_method"


async def test_read_methods_ignore_a_json_body(api: Api, state: SlackState) -> None:
    general = channel_id(state, "general")
    answer = await api.json("conversations.history", {"channel": general})
    assert answer == {"ok": False, "error": "channel_not_found"}
