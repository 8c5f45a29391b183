"""The OpenRouter fake itself: driven by OpenRouter's official Python SDK (if the SDK's requests
pass the fake's checks and its parser takes the fake's answers, the two speak one dialect)
and by a plain aiohttp client for what the SDK would never send."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDictProxy
from openrouter import OpenRouter, errors

from connectql.testing import FakeUpstream
from connectql.testing.fakes.openrouter import (
    DEFAULT_API_KEY,
    OpenRouterState,
    create_openrouter_app,
    request_problems,
)

AUTH = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture
def state() -> OpenRouterState:
    return OpenRouterState()


@pytest.fixture
async def fake(state: OpenRouterState) -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(create_openrouter_app(state)) as upstream:
        yield upstream


@pytest.fixture
async def sdk(fake: FakeUpstream) -> AsyncIterator[OpenRouter]:
    async with OpenRouter(
        api_key=DEFAULT_API_KEY,
        server_url=f"{fake.url}/api/v1",
        http_referer="https://example.com",
        x_open_router_title="Example",
        timeout_ms=10_000,
    ) as client:
        yield client


async def post(
    fake: FakeUpstream, path: str, body: Any, headers: dict[str, str] | None = None
) -> tuple[int, Any, CIMultiDictProxy[str]]:
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.post(f"{fake.url}/api/v1{path}", json=body, headers=headers or AUTH) as response,
    ):
        return response.status, await response.json(), response.headers


async def test_the_sdk_chats_with_routing_and_parses_the_answer(
    sdk: OpenRouter, state: OpenRouterState
) -> None:
    result = await sdk.chat.send_async(
        model="openai/gpt-4o-mini",
        models=["meta-llama/llama-3.1-8b-instruct"],
        messages=HELLO,
        provider={"order": ["Azure"], "allow_fallbacks": True, "data_collection": "deny"},
        max_tokens=50,
    )
    assert result.choices[0].message.content == "echo: hello"
    assert result.model == "openai/gpt-4o-mini"
    assert state.routes == [("openai/gpt-4o-mini", "Azure")]
    assert state.attributions == [("https://example.com", "Example")]  # X-OpenRouter-Title
    assert state.violations == []


async def test_the_sdk_lists_models_page_by_page(
    sdk: OpenRouter, fake: FakeUpstream, state: OpenRouterState
) -> None:
    first = await sdk.models.list_async(limit=3)
    assert [m.id for m in first.result.data] == [m.id for m in state.models[:3]]
    assert first.result.total_count == len(state.models)
    assert first.result.links.next == f"{fake.url}/api/v1/models?offset=3&limit=3"
    last = await first.next()
    assert last is not None
    assert [m.id for m in last.result.data] == [state.models[3].id]
    assert last.result.links.next is None
    assert await last.next() is None
    one = await sdk.models.get_async(author="openai", slug="gpt-4o-mini")
    assert one.data.name == "OpenAI: GPT-4o-mini"


async def test_the_sdk_embeds(sdk: OpenRouter, state: OpenRouterState) -> None:
    result = await sdk.embeddings.generate_async(
        model="openai/text-embedding-3-small", input=["a", "b"]
    )
    assert [d.index for d in result.data] == [0, 1]
    assert state.embedding_batches == [["a", "b"]]
    assert state.violations == []


async def test_the_sdk_reads_the_error_envelope(fake: FakeUpstream) -> None:
    async with OpenRouter(api_key="sk-or-v1-nope", server_url=f"{fake.url}/api/v1") as client:
        with pytest.raises(errors.UnauthorizedResponseError) as caught:
            await client.chat.send_async(model="openai/gpt-4o-mini", messages=HELLO)
    assert caught.value.data.error.code == 401
    assert caught.value.data.error.message == "User not found."


async def test_a_rate_limit_announces_its_reset_and_counts_early_requests(
    fake: FakeUpstream, state: OpenRouterState
) -> None:
    state.rate_limit_next = 1
    state.rate_limit_reset_ms = 1500  # room for the early request on a busy machine
    body = {"model": "openai/gpt-4o-mini", "messages": HELLO}
    before_ms = int(time.time() * 1000)
    status, answer, headers = await post(fake, "/chat/completions", body)
    assert status == 429
    assert "Retry-After" not in headers
    reset = int(headers["X-RateLimit-Reset"])
    assert before_ms + 1500 <= reset <= int(time.time() * 1000) + 1500
    assert headers["X-RateLimit-Remaining"] == "0"
    assert answer["error"]["code"] == 429
    assert answer["error"]["metadata"]["headers"]["X-RateLimit-Reset"] == str(reset)
    again, _, _ = await post(fake, "/chat/completions", body)  # at once: too early
    assert again == 429
    assert state.early_requests == 1
    await asyncio.sleep((reset - time.time() * 1000) / 1000 + 0.01)
    after, _, _ = await post(fake, "/chat/completions", body)
    assert after == 200
    assert state.early_requests == 1


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        pytest.param(
            {"model": "openai/gpt-4o-mini", "messages": HELLO, "max_tokens": "many"},
            "chat: max_tokens",
            id="wrong-type",
        ),
        pytest.param(
            {"model": "openai/gpt-4o-mini", "messages": HELLO, "maxTokens": 5},
            "chat: unknown key 'maxTokens'",
            id="unknown-key",
        ),
        pytest.param(
            {"model": "openai/gpt-4o-mini", "messages": HELLO, "provider": {"allowFallbacks": 1}},
            "chat.provider: unknown key 'allowFallbacks'",
            id="unknown-provider-key",
        ),
        pytest.param({"model": "openai/gpt-4o-mini"}, "chat: messages", id="no-messages"),
    ],
)
async def test_requests_outside_the_schema_are_refused_and_recorded(
    fake: FakeUpstream, state: OpenRouterState, body: dict[str, Any], problem: str
) -> None:
    status, answer, _ = await post(fake, "/chat/completions", body)
    assert status == 400
    assert answer["error"]["code"] == 400
    assert [v for v in state.violations if v.startswith(problem)], state.violations
    assert request_problems("chat", {"model": "x", "messages": HELLO}) == []


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        pytest.param({}, "No auth credentials found", id="no-key"),
        pytest.param({"Authorization": "Bearer sk-or-v1-x"}, "User not found.", id="wrong-key"),
    ],
)
async def test_chat_needs_a_key_and_models_do_not(
    fake: FakeUpstream, headers: dict[str, str], message: str
) -> None:
    body = {"model": "openai/gpt-4o-mini", "messages": HELLO}
    status, answer, _ = await post(fake, "/chat/completions", body, headers or {"X-Any": "1"})
    assert (status, answer) == (401, {"error": {"code": 401, "message": message}})
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(f"{fake.url}/api/v1/models") as response,
    ):
        assert response.status == 200


async def test_unknown_routes_answer_the_envelope(fake: FakeUpstream) -> None:
    status, answer, _ = await post(fake, "/nope", {})
    assert (status, answer) == (404, {"error": {"code": 404, "message": "Not Found"}})
