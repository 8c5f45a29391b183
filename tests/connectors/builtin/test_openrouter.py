"""The prebuilt OpenRouter connector (the OpenAI spec extended) against the OpenRouter fake."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from connectql.connectors.builtin import builtin_spec
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec
from connectql.testing import FakeUpstream, Fault
from connectql.testing.fakes.openai import fake_embedding
from connectql.testing.fakes.openrouter import (
    DEFAULT_API_KEY,
    DEFAULT_MODELS,
    FakeModel,
    OpenRouterState,
    create_openrouter_app,
)
from tests.connectors.builtin.contract import ConnectorContract
from tests.support import execute, serving

WRONG_KEY = "sk-or-v1-wrong0000000000000000000000000000000000000000000000000000beef"
CHAT_PATH = "/api/v1/chat/completions"
JSON = {"Content-Type": "application/json"}


def chat(model: str = "openai/gpt-4o-mini", text: str = "hello there", extra: str = "") -> str:
    return f"""
    mutation {{
      openrouter {{
        chatCompletion(model: "{model}", messages: [
          {{role: SYSTEM, content: "Be brief."}}, {{role: USER, content: "{text}"}}
        ]{extra}) {{ id model provider content finishReason totalTokens }}
      }}
    }}
    """


def many_models(n: int) -> list[FakeModel]:
    extra = [
        FakeModel(
            f"vendor/model-{i:03}", f"Model {i}", 1700000000 + i, 4096, DEFAULT_MODELS[2].providers
        )
        for i in range(n - len(DEFAULT_MODELS))
    ]
    return [*DEFAULT_MODELS, *extra]


class TestOpenRouterContract(ConnectorContract):
    name = "openrouter"
    operations = ("models", "model", "chatCompletion", "embedding")
    auth_query = chat()

    @contextlib.asynccontextmanager
    async def fake(self) -> AsyncIterator[FakeUpstream]:
        self.state = OpenRouterState(models=many_models(230))
        async with FakeUpstream(create_openrouter_app(self.state)) as upstream:
            yield upstream
        assert self.state.violations == []  # every request the connector sent fits the schema

    def operation_queries(self) -> dict[str, str]:
        return {
            "models": "{ openrouter { models(first: 5) { nodes { id name contextLength } } } }",
            "model": (
                '{ openrouter { model(author: "openai", slug: "gpt-4o-mini") '
                "{ id name promptPrice completionPrice } } }"
            ),
            "chatCompletion": chat(),
            "embedding": '{ openrouter { embedding(text: "hello") } }',
        }

    def config(self, fake: FakeUpstream) -> dict[str, Any]:
        return {"base_url": f"{fake.url}/api/v1", "api_key": DEFAULT_API_KEY}

    def wrong_config(self, fake: FakeUpstream) -> dict[str, Any]:
        return {"base_url": f"{fake.url}/api/v1", "api_key": WRONG_KEY}

    def secrets(self) -> list[str]:
        return [DEFAULT_API_KEY, WRONG_KEY]

    async def check_pagination(self, url: str, fake: FakeUpstream) -> None:
        query = "{ openrouter { models(first: 1000) { nodes { id } pageInfo { hasNextPage } } } }"
        result = await execute(url, query)
        assert result.errors is None
        models = result.data["openrouter"]["models"]
        assert [n["id"] for n in models["nodes"]] == [m.id for m in self.state.models]
        assert models["pageInfo"]["hasNextPage"] is False
        assert fake.count("GET", "/api/v1/models") == 3  # limit=100: 100 + 100 + 30, links.next
        assert [r.query.get("offset") for r in fake.requests] == [None, "100", "200"]

    async def check_rate_limit(self, url: str, fake: FakeUpstream) -> None:
        self.state.rate_limit_next = 1  # 429, X-RateLimit-Remaining 0, reset 300 ms ahead
        result = await execute(url, chat())
        assert result.errors is None
        assert fake.count("POST", CHAT_PATH) == 2  # waited for the reset, then succeeded
        assert self.state.early_requests == 0  # nothing arrived before the announced reset

        self.state.credits = 0  # 402: out of credits, never retried
        refused = await execute(url, chat())
        error = refused.errors[0]
        assert error["extensions"]["code"] == "QUOTA_EXCEEDED"
        assert error["extensions"]["upstreamCode"] == 402
        assert error["extensions"]["retryable"] is False
        assert error["message"].startswith("Insufficient credits")
        assert fake.count("POST", CHAT_PATH) == 3

    async def check_batching(self, url: str, fake: FakeUpstream) -> None:
        texts = ["alpha", "beta", "gamma", "beta", "delta"]
        fields = " ".join(f'e{i}: embedding(text: "{t}")' for i, t in enumerate(texts))
        result = await execute(url, f"{{ openrouter {{ {fields} }} }}")
        assert result.errors is None
        assert fake.count("POST", "/api/v1/embeddings") == 1  # one call for the five fields
        assert self.state.embedding_batches == [["alpha", "beta", "gamma", "delta"]]
        for i, text in enumerate(texts):
            assert result.data["openrouter"][f"e{i}"] == pytest.approx(fake_embedding(text))


@contextlib.asynccontextmanager
async def openrouter(
    state: OpenRouterState, **config: Any
) -> AsyncIterator[tuple[str, FakeUpstream]]:
    async with FakeUpstream(create_openrouter_app(state)) as fake:
        runtime = Runtime()
        settings = {"base_url": f"{fake.url}/api/v1", "api_key": DEFAULT_API_KEY, **config}
        runtime.add(load_spec(builtin_spec("openrouter")), settings)
        async with serving(runtime) as url:
            yield url, fake
    assert state.violations == []


async def test_app_attribution_headers_are_sent() -> None:
    state = OpenRouterState()
    async with openrouter(
        state, http_referer="https://example.com/app", app_title="Example App"
    ) as (url, fake):
        result = await execute(url, chat())
    assert result.errors is None
    completion = result.data["openrouter"]["chatCompletion"]
    assert completion["content"] == "echo: hello there"
    assert completion["provider"] == "OpenAI"
    assert state.attributions == [("https://example.com/app", "Example App")]
    sent = fake.requests[0]
    assert sent.headers["Authorization"] == f"Bearer {DEFAULT_API_KEY}"
    assert "OpenAI-Organization" not in sent.headers  # the OpenAI-only headers are omitted


async def test_no_attribution_headers_when_not_configured() -> None:
    state = OpenRouterState()
    async with openrouter(state) as (url, fake):
        await execute(url, chat())
    assert state.attributions == [(None, None)]
    assert "HTTP-Referer" not in fake.requests[0].headers


@pytest.mark.parametrize(
    ("extra", "down", "served"),
    [
        pytest.param(
            ', models: ["meta-llama/llama-3.1-8b-instruct"]',
            {"openai/gpt-4o-mini"},
            ("meta-llama/llama-3.1-8b-instruct", "DeepInfra"),
            id="fallback-model",
        ),
        pytest.param(
            ', provider: {order: ["Together", "Fireworks"]}',
            set(),
            ("meta-llama/llama-3.1-8b-instruct", "Together"),
            id="provider-order",
        ),
        pytest.param(
            ", provider: {sort: THROUGHPUT}",
            set(),
            ("meta-llama/llama-3.1-8b-instruct", "Together"),
            id="provider-sort",
        ),
        pytest.param(
            ', provider: {ignore: ["DeepInfra"], sort: PRICE}',
            set(),
            ("meta-llama/llama-3.1-8b-instruct", "Fireworks"),
            id="provider-ignore",
        ),
        pytest.param(
            ", provider: {dataCollection: DENY, sort: LATENCY}",
            set(),
            ("meta-llama/llama-3.1-8b-instruct", "Together"),
            id="data-collection-deny",
        ),
    ],
)
async def test_model_routing(extra: str, down: set[str], served: tuple[str, str]) -> None:
    state = OpenRouterState(down_models=down)
    model = "openai/gpt-4o-mini" if down else "meta-llama/llama-3.1-8b-instruct"
    async with openrouter(state) as (url, _):
        result = await execute(url, chat(model, extra=extra))
    assert result.errors is None, result.errors
    completion = result.data["openrouter"]["chatCompletion"]
    assert (completion["model"], completion["provider"]) == served
    assert state.routes == [served]


async def test_routing_preferences_reach_the_body_in_openrouter_names() -> None:
    state = OpenRouterState()
    extra = (
        ', models: ["mistralai/mistral-small"], provider: {order: ["Azure"], '
        "allowFallbacks: false, requireParameters: true, dataCollection: DENY}"
    )
    async with openrouter(state) as (url, _):
        result = await execute(url, chat(extra=extra))
    assert result.errors is None, result.errors
    sent = state.chat_requests[0]
    assert sent["models"] == ["mistralai/mistral-small"]
    assert sent["provider"] == {
        "order": ["Azure"],
        "allow_fallbacks": False,
        "require_parameters": True,
        "data_collection": "deny",
    }
    assert "temperature" not in sent  # unset arguments are left out, not sent as null
    assert state.routes == [("openai/gpt-4o-mini", "Azure")]


async def test_errors_carry_the_openrouter_envelope() -> None:
    state = OpenRouterState()
    async with openrouter(state) as (url, fake):
        invalid = await execute(url, chat("openai/nope"))
        flagged = await execute(url, chat(text="a forbidden-word here"))
        state.down_providers = {"OpenAI", "Azure"}
        down = await execute(url, chat())
        down_calls = fake.count("POST", CHAT_PATH)
        unroutable = await execute(url, chat(extra=', provider: {only: ["Nobody"]}'))
        missing = await execute(url, '{ openrouter { model(author: "x", slug: "y") { id } } }')
        unroutable_calls = fake.count("POST", CHAT_PATH) - down_calls
    error = invalid.errors[0]
    assert error["extensions"]["httpStatus"] == 400
    assert error["message"] == "openai/nope is not a valid model ID"
    assert error["extensions"]["upstreamCode"] == 400

    error = flagged.errors[0]
    assert error["extensions"]["httpStatus"] == 403
    assert error["extensions"]["details"] == ["violence"]  # metadata.reasons
    assert "flagged" in error["message"]

    error = down.errors[0]
    assert error["extensions"]["httpStatus"] == 502
    assert error["message"] == "Provider returned error"
    assert "upstream connect error" not in str(down.errors)  # metadata.raw is not passed on
    assert down_calls == 3  # one each: a chat completion is a POST, not retried on a 5xx

    error = unroutable.errors[0]
    assert error["extensions"]["httpStatus"] == 503
    assert unroutable_calls == 1
    assert missing.errors is None
    assert missing.data == {"openrouter": {"model": None}}


async def test_a_wrong_key_is_unauthenticated_and_not_echoed() -> None:
    state = OpenRouterState()
    async with openrouter(state, api_key=WRONG_KEY) as (url, _):
        result = await execute(url, chat())
    error = result.errors[0]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["message"] == "User not found."
    assert WRONG_KEY not in str(result.errors)


async def test_a_503_is_not_retried_and_a_502_is() -> None:
    state = OpenRouterState()
    unavailable = b'{"error": {"code": 503, "message": "No available model provider"}}'
    async with openrouter(state) as (url, fake):
        fake.faults.add(Fault(status=503, headers=JSON, body=unavailable), times=1)
        refused = await execute(url, "{ openrouter { models(first: 1) { nodes { id } } } }")
        calls_503 = fake.count("GET", "/api/v1/models")
        fake.faults.add(Fault(status=502, headers=JSON, body=b'{"error": {"code": 502}}'))
        served = await execute(url, "{ openrouter { models(first: 1) { nodes { id } } } }")
    assert refused.errors[0]["message"] == "No available model provider"
    assert calls_503 == 1  # no provider meets the routing requirements: asking again won't help
    assert served.errors is None
    assert fake.count("GET", "/api/v1/models") == calls_503 + 2  # a 502, then success
