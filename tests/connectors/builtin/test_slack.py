"""The prebuilt Slack connector against a faithful fake of the Web API."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from connectql.connectors.builtin import builtin_spec
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec
from connectql.testing import FakeClock, FakeUpstream
from connectql.testing.fakes.slack import (
    BOT_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    SlackState,
    create_slack_app,
)
from tests.connectors.builtin.contract import ConnectorContract
from tests.support import execute, serving

GENERAL = "{ slack { channels(first: 1) { nodes { id } } } }"
UPLOAD = (
    'mutation { slack { uploadFile(channel: "CHANNEL", filename: "notes.txt", '
    'content: "hello file", title: "Notes") { id title size } } }'
)


class TestSlackContract(ConnectorContract):
    name = "slack"
    operations = ("channels", "messages", "users", "user", "postMessage", "uploadFile")
    auth_query = "{ slack { users(first: 1) { nodes { id } } } }"

    @contextlib.asynccontextmanager
    async def fake(self) -> AsyncIterator[FakeUpstream]:
        self.state = SlackState.seeded()
        general = self.state.channel("general")
        assert general is not None
        self.general = general["id"]
        self.user_id = self.state.users[0]["id"]
        async with FakeUpstream(create_slack_app(self.state)) as upstream:
            yield upstream

    def operation_queries(self) -> dict[str, str]:
        channel, user = self.general, self.user_id
        return {
            "channels": "{ slack { channels(first: 50) { nodes { id name isMember } } } }",
            "messages": (
                f'{{ slack {{ messages(channel: "{channel}", first: 5) {{ nodes {{ ts }} }} }} }}'
            ),
            "users": "{ slack { users(first: 10) { nodes { id name realName } } } }",
            "user": f'{{ slack {{ user(id: "{user}") {{ id name displayName }} }} }}',
            "postMessage": (
                f'mutation {{ slack {{ postMessage(channel: "{channel}", text: "hi") {{ ts }} }} }}'
            ),
            "uploadFile": UPLOAD.replace("CHANNEL", channel),
        }

    def config(self, fake: FakeUpstream) -> dict[str, Any]:
        return {"base_url": f"{fake.url}/api", "token": BOT_TOKEN}

    def wrong_config(self, fake: FakeUpstream) -> dict[str, Any]:
        return {"base_url": f"{fake.url}/api", "token": "xoxb-not-a-real-token"}

    def secrets(self) -> list[str]:
        return [BOT_TOKEN, "xoxb-not-a-real-token"]

    async def check_pagination(self, url: str, fake: FakeUpstream) -> None:
        query = (
            f'{{ slack {{ messages(channel: "{self.general}", first: 1000) {{ nodes {{ ts }} '
            "pageInfo { hasNextPage } } } }"
        )
        result = await execute(url, query)
        messages = result.data["slack"]["messages"]
        assert len(messages["nodes"]) == len(self.state.messages[self.general])
        assert messages["pageInfo"]["hasNextPage"] is False
        assert fake.count("GET", "/api/conversations.history") == 2  # 200 + 50, cursor "" ends

    async def check_rate_limit(self, url: str, fake: FakeUpstream) -> None:
        self.state.rate_limited["chat.postMessage"] = 1  # 429, Retry-After: 1 (special tier)
        result = await execute(
            url,
            f'mutation {{ slack {{ postMessage(channel: "{self.general}", text: "later") '
            "{ ts } } }",
        )
        assert result.errors is None
        assert fake.count("POST", "/api/chat.postMessage") == 2

    async def check_batching(self, url: str, fake: FakeUpstream) -> None:
        query = (
            f'{{ slack {{ messages(channel: "{self.general}", first: 100) '
            "{ nodes { ts user { id name } } } } }"
        )
        result = await execute(url, query)
        assert result.errors is None
        nodes = result.data["slack"]["messages"]["nodes"]
        assert {n["user"]["id"] for n in nodes} == {u["id"] for u in self.state.users[:8]}
        # users.list warms the loader: one list call (a page of 200 covers 30 users), no users.info
        assert fake.count("GET", "/api/users.list") == 1
        assert fake.count("GET", "/api/users.info") == 0
        assert fake.count("GET", "/api/conversations.history") == 1


async def test_ok_false_is_a_typed_error_with_slacks_code() -> None:
    contract = TestSlackContract()
    async with contract.served() as (url, _):
        result = await execute(
            url, 'mutation { slack { postMessage(channel: "C404", text: "x") { ts } } }'
        )
        missing = await execute(url, '{ slack { user(id: "U404") { id } } }')
    error = result.errors[0]
    assert error["extensions"]["code"] == "UPSTREAM_ERROR"
    assert error["extensions"]["upstreamCode"] == "channel_not_found"
    assert error["extensions"]["httpStatus"] == 200
    assert missing.data == {"slack": {"user": None}}  # user_not_found maps to null


async def test_rotating_tokens_refresh_through_oauth_v2_access() -> None:
    clock = FakeClock(start=1_750_000_000.0)
    state = SlackState.seeded(now=clock.time, token_ttl=600)
    state.tokens = {"xoxe.xoxb-first": clock.time() + 600}
    async with FakeUpstream(create_slack_app(state)) as fake:
        runtime = Runtime(clock=clock)
        runtime.add(
            load_spec(builtin_spec("slack")),
            {
                "base_url": f"{fake.url}/api",
                "token": "xoxe.xoxb-first",
                "refresh_token": REFRESH_TOKEN,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            },
        )
        async with serving(runtime) as url:
            assert (await execute(url, GENERAL)).errors is None
            clock.advance(700)  # token_expired now
            assert (await execute(url, GENERAL)).errors is None
            clock.advance(700)  # the rotated token expired too
            assert (await execute(url, GENERAL)).errors is None
    used = [g.refresh_token for g in state.grants]
    assert used[0] == REFRESH_TOKEN
    assert used[1] == state.grants[0].new_refresh_token  # the rotated one was kept and used
    assert len(used) == 2


async def test_upload_uses_the_three_step_flow() -> None:
    contract = TestSlackContract()
    async with contract.served() as (url, fake):
        result = await execute(url, contract.operation_queries()["uploadFile"])
        paths = [r.path for r in fake.requests]
    assert result.errors is None
    uploaded = result.data["slack"]["uploadFile"]
    assert uploaded["title"] == "Notes"
    assert uploaded["size"] == len("hello file")
    assert paths == [
        "/api/files.getUploadURLExternal",
        f"/upload/{uploaded['id']}",
        "/api/files.completeUploadExternal",
    ]
    assert contract.state.files[uploaded["id"]].data == b"hello file"
