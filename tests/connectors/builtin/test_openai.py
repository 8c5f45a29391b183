"""The prebuilt OpenAI connector against a faithful fake (and any OpenAI-compatible server)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from connectql.testing import FakeUpstream
from connectql.testing.fakes.openai import (
    DEFAULT_API_KEY,
    OpenAIState,
    create_openai_app,
    fake_embedding,
)
from tests.connectors.builtin.contract import ConnectorContract
from tests.support import execute

CHAT = """
mutation {
  openai {
    chatCompletion(model: "gpt-4o-mini", messages: [
      {role: SYSTEM, content: "Be brief."}, {role: USER, content: "hello there"}
    ]) { id model content finishReason totalTokens }
  }
}
"""


class TestOpenAIContract(ConnectorContract):
    name = "openai"
    operations = ("models", "model", "chatCompletion", "embedding")
    auth_query = "{ openai { models { id } } }"

    @contextlib.asynccontextmanager
    async def fake(self) -> AsyncIterator[FakeUpstream]:
        self.state = OpenAIState()
        async with FakeUpstream(create_openai_app(self.state)) as upstream:
            yield upstream

    def operation_queries(self) -> dict[str, str]:
        return {
            "models": "{ openai { models { id ownedBy created } } }",
            "model": '{ openai { model(id: "gpt-4o-mini") { id } } }',
            "chatCompletion": CHAT,
            "embedding": '{ openai { embedding(text: "hello") } }',
        }

    def config(self, fake: FakeUpstream) -> dict[str, Any]:
        return {"base_url": f"{fake.url}/v1", "api_key": DEFAULT_API_KEY}

    def wrong_config(self, fake: FakeUpstream) -> dict[str, Any]:
        return {"base_url": f"{fake.url}/v1", "api_key": "sk-wrong-0123456789abcdef"}

    def secrets(self) -> list[str]:
        return [DEFAULT_API_KEY, "sk-wrong-0123456789abcdef"]

    async def check_pagination(self, url: str, fake: FakeUpstream) -> None:
        # OpenAI's lists come whole in one page; the connector returns all of it
        result = await execute(url, "{ openai { models { id } } }")
        ids = [m["id"] for m in result.data["openai"]["models"]]
        assert ids == [m.id for m in self.state.models]
        assert fake.count("GET", "/v1/models") == 1

    async def check_rate_limit(self, url: str, fake: FakeUpstream) -> None:
        self.state.rate_limit_next = 2  # 429 rate_limit_exceeded twice, with retry-after-ms
        result = await execute(url, CHAT)
        assert result.errors is None
        assert fake.count("POST", "/v1/chat/completions") == 3  # two waits, then success

        self.state.quota_exhausted = True  # insufficient_quota: never retried
        before = fake.count("POST", "/v1/chat/completions")
        refused = await execute(url, CHAT)
        error = refused.errors[0]
        assert error["extensions"]["code"] == "QUOTA_EXCEEDED"
        assert error["extensions"]["upstreamCode"] == "insufficient_quota"
        assert error["extensions"]["retryable"] is False
        assert error["message"].startswith("You exceeded your current quota")
        assert fake.count("POST", "/v1/chat/completions") == before + 1

    async def check_batching(self, url: str, fake: FakeUpstream) -> None:
        texts = ["alpha", "beta", "gamma", "beta", "delta"]
        fields = " ".join(f'e{i}: embedding(text: "{t}")' for i, t in enumerate(texts))
        result = await execute(url, f"{{ openai {{ {fields} }} }}")
        assert result.errors is None
        assert fake.count("POST", "/v1/embeddings") == 1  # one call for the five fields
        assert self.state.embedding_batches == [["alpha", "beta", "gamma", "delta"]]  # deduped
        for i, text in enumerate(texts):
            got = result.data["openai"][f"e{i}"]
            assert got == pytest.approx(fake_embedding(text))


async def test_chat_completion_result_and_request() -> None:
    state = OpenAIState()
    async with FakeUpstream(create_openai_app(state)) as fake:
        contract = TestOpenAIContract()
        from connectql.connectors.builtin import builtin_spec
        from connectql.runtime import Runtime
        from connectql.spec.loader import load_spec
        from tests.support import serving

        runtime = Runtime()
        runtime.add(
            load_spec(builtin_spec("openai")),
            {**contract.config(fake), "organization": "org-123", "project": "proj-9"},
        )
        async with serving(runtime) as url:
            result = await execute(url, CHAT)
    completion = result.data["openai"]["chatCompletion"]
    assert completion["content"] == "echo: hello there"
    assert completion["finishReason"] == "stop"
    sent = state.chat_requests[0]
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello there"},
    ]
    assert "temperature" not in sent  # unset arguments are left out, not sent as null
    headers = state.seen_headers[0]
    assert headers["openai-organization"] == "org-123"
    assert headers["openai-project"] == "proj-9"


async def test_errors_carry_the_openai_envelope() -> None:
    contract = TestOpenAIContract()
    async with contract.served() as (url, _):
        result = await execute(
            url,
            'mutation { openai { chatCompletion(model: "nope", messages: '
            '[{role: USER, content: "x"}]) { id } } }',
        )
        missing = await execute(url, '{ openai { model(id: "nope") { id } } }')
    error = result.errors[0]
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert error["extensions"]["upstreamCode"] == "model_not_found"
    assert error["extensions"]["details"] == "model"
    assert "does not exist" in error["message"]
    assert missing.errors is None
    assert missing.data == {"openai": {"model": None}}


async def test_no_organization_header_when_not_configured() -> None:
    contract = TestOpenAIContract()
    async with contract.served() as (url, _):
        await execute(url, "{ openai { models { id } } }")
    headers = contract.state.seen_headers[0]
    assert "openai-organization" not in headers
    assert "openai-project" not in headers
