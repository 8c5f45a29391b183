"""The prebuilt Google GenAI (Gemini API) connector against its fake, which validates every
request against the REST messages; the official google-genai SDK runs against the same fake."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from gql import Client, gql
from gql.transport.exceptions import TransportQueryError

from connectql.connectors.builtin import builtin_spec
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec
from connectql.testing import FakeUpstream
from connectql.testing.fakes.google_genai import (
    DEFAULT_API_KEY,
    FakeModel,
    GenAIState,
    create_genai_app,
    fake_embedding,
)
from tests.connectors.builtin.contract import ConnectorContract
from tests.support import execute, serving, ws_transport

WRONG_KEY = "AIzaSyWRONG-genai-9876543210zyxwvutsrq"

GENERATE = """
mutation {
  google_genai {
    generateContent(
      model: "gemini-2.5-flash"
      contents: [{role: USER, parts: [{text: "hello there"}]}]
      systemInstruction: {parts: [{text: "Be brief."}]}
      safetySettings: [{category: HARM_CATEGORY_HARASSMENT, threshold: BLOCK_ONLY_HIGH}]
      generationConfig: {temperature: 0.2, maxOutputTokens: 64, topK: 40, stopSequences: ["END"]}
    ) { text finishReason promptTokens candidatesTokens totalTokens modelVersion }
  }
}
"""
COUNT = """
{ google_genai { countTokens(model: "gemini-2.5-flash",
    contents: [{role: USER, parts: [{text: "sixteen chars!!!"}]}]) { totalTokens } } }
"""
START_VIDEO = """
mutation { google_genai { generateVideo(prompt: "a cat surfing", aspectRatio: "16:9",
    numberOfVideos: 2) { name done progressPercent } } }
"""
READ_VIDEO = """
query($name: ID!) { google_genai { videoOperation(name: $name) {
    name done progressPercent videos { uri } } } }
"""


class TestGoogleGenAIContract(ConnectorContract):
    name = "google_genai"
    operations = (
        "models",
        "model",
        "generateContent",
        "countTokens",
        "embedding",
        "generateVideo",
        "videoOperation",
        "videoProgress",
    )
    auth_query = "{ google_genai { models(first: 5) { nodes { name } } } }"

    @contextlib.asynccontextmanager
    async def fake(self) -> AsyncIterator[FakeUpstream]:
        self.state = GenAIState()
        async with FakeUpstream(create_genai_app(self.state)) as upstream:
            yield upstream
        assert self.state.violations == []  # every request had the API's shape

    def operation_queries(self) -> dict[str, str]:
        job = "models/veo-3.0-generate-001/operations/none"
        return {
            "models": "{ google_genai { models(first: 3) { nodes { name displayName } } } }",
            "model": '{ google_genai { model(name: "gemini-2.5-flash") { name } } }',
            "generateContent": GENERATE,
            "countTokens": COUNT,
            "embedding": '{ google_genai { embedding(text: "hello") } }',
            "generateVideo": START_VIDEO,
            "videoOperation": f'{{ google_genai {{ v: videoOperation(name: "{job}") {{ name }} '
            f'm: model(name: "veo-3.0-generate-001") {{ name }} }} }}',
            # a subscription's document, sent here as the query it polls (WebSocket: below)
            "videoProgress": f'{{ google_genai {{ videoOperation(name: "{job}") {{ done }} }} }}',
        }

    def config(self, fake: FakeUpstream) -> dict[str, Any]:
        return {"base_url": f"{fake.url}/v1beta", "api_key": DEFAULT_API_KEY}

    def wrong_config(self, fake: FakeUpstream) -> dict[str, Any]:
        return {"base_url": f"{fake.url}/v1beta", "api_key": WRONG_KEY}

    def secrets(self) -> list[str]:
        return [DEFAULT_API_KEY, WRONG_KEY]

    async def check_pagination(self, url: str, fake: FakeUpstream) -> None:
        self.state.models += [FakeModel(f"tuned-{i:03}") for i in range(123)]  # 130 in all
        result = await execute(
            url,
            "{ google_genai { models(first: 200) { nodes { name } pageInfo { hasNextPage } } } }",
        )
        assert result.errors is None, result.errors
        page = result.data["google_genai"]["models"]
        assert [m["name"] for m in page["nodes"]] == [f"models/{m.name}" for m in self.state.models]
        assert page["pageInfo"]["hasNextPage"] is False
        assert fake.count("GET", "/v1beta/models") == 3  # 50 + 50 + 30, no token ends
        tokens = [r.query.get("pageToken") for r in fake.requests]
        assert tokens[0] is None
        assert all(tokens[1:])
        assert {r.query.get("pageSize") for r in fake.requests} == {"50"}

    async def check_rate_limit(self, url: str, fake: FakeUpstream) -> None:
        self.state.rate_limit_next = 2  # 429 RESOURCE_EXHAUSTED twice, then an answer
        result = await execute(url, GENERATE)
        assert result.errors is None, result.errors
        path = "/v1beta/models/gemini-2.5-flash:generateContent"
        assert fake.count("POST", path) == 3

        self.state.rate_limit_next = 5  # more than the retries: a typed error
        refused = await execute(url, COUNT)
        error = refused.errors[0]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert error["extensions"]["upstreamCode"] == "RESOURCE_EXHAUSTED"
        assert error["message"].startswith("You exceeded your current quota")
        assert fake.count("POST", "/v1beta/models/gemini-2.5-flash:countTokens") == 3

    async def check_batching(self, url: str, fake: FakeUpstream) -> None:
        texts = [f"text number {i}" for i in range(20)]
        fields = " ".join(f'e{i}: embedding(text: "{t}")' for i, t in enumerate(texts))
        result = await execute(url, f"{{ google_genai {{ {fields} }} }}")
        assert result.errors is None, result.errors
        assert fake.count() == 1  # 20 embeddings → one batchEmbedContents call
        assert fake.count("POST", "/v1beta/models/gemini-embedding-001:batchEmbedContents") == 1
        assert self.state.embed_batches == [texts]
        sent = fake.requests[0].json()["requests"]
        assert sent[0] == {
            "model": "models/gemini-embedding-001",
            "content": {"role": "user", "parts": [{"text": "text number 0"}]},
        }
        for i, text in enumerate(texts):
            assert result.data["google_genai"][f"e{i}"] == pytest.approx(fake_embedding(text))


async def test_generate_content_sends_every_part_of_the_request() -> None:
    contract = TestGoogleGenAIContract()
    async with contract.served() as (url, fake):
        result = await execute(url, GENERATE)
    assert result.errors is None, result.errors
    answer = result.data["google_genai"]["generateContent"]
    assert answer["text"] == "echo: hello there"
    assert answer["finishReason"] == "STOP"
    assert answer["totalTokens"] == answer["promptTokens"] + answer["candidatesTokens"]
    assert contract.state.generate_requests == [
        {
            "contents": [{"role": "user", "parts": [{"text": "hello there"}]}],
            "systemInstruction": {"parts": [{"text": "Be brief."}]},
            "safetySettings": [
                {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}
            ],
            "generationConfig": {
                "temperature": 0.2,
                "maxOutputTokens": 64,
                "topK": 40,
                "stopSequences": ["END"],
            },
        }
    ]
    assert contract.state.seen_headers[0]["x-goog-api-key"] == DEFAULT_API_KEY
    assert "key" not in fake.requests[0].query  # the key travels in the header only


async def test_safety_settings_block_and_limits_cut() -> None:
    contract = TestGoogleGenAIContract()
    async with contract.served() as (url, _):
        blocked = await execute(
            url,
            'mutation { google_genai { generateContent(model: "gemini-2.0-flash", contents: '
            '[{parts: [{text: "something forbidden"}]}], safetySettings: [{category: '
            "HARM_CATEGORY_DANGEROUS_CONTENT, threshold: BLOCK_LOW_AND_ABOVE}]) "
            "{ text blockReason } } }",
        )
        cut = await execute(
            url,
            'mutation { google_genai { generateContent(model: "gemini-2.0-flash", contents: '
            '[{parts: [{text: "a rather long prompt to be cut"}]}], '
            "generationConfig: {maxOutputTokens: 2}) { text finishReason } } }",
        )
    assert blocked.data["google_genai"]["generateContent"] == {
        "text": None,
        "blockReason": "SAFETY",
    }
    assert cut.data["google_genai"]["generateContent"] == {
        "text": "echo: a ",
        "finishReason": "MAX_TOKENS",
    }


async def test_a_video_is_started_then_read_until_done() -> None:
    contract = TestGoogleGenAIContract()
    async with contract.served() as (url, fake):
        started = await execute(url, START_VIDEO)
        assert started.errors is None, started.errors
        operation = started.data["google_genai"]["generateVideo"]
        name = operation["name"]
        assert name.startswith("models/veo-3.0-generate-001/operations/")
        assert operation["done"] is None
        seen = []
        for _ in range(contract.state.video_polls):  # bounded: the fake finishes on read 3
            read = await execute(url, READ_VIDEO, {"name": name})
            assert read.errors is None, read.errors
            seen.append(read.data["google_genai"]["videoOperation"])
    assert [s["progressPercent"] for s in seen] == [33, 66, None]
    assert [s["done"] for s in seen] == [None, None, True]
    videos = seen[-1]["videos"]
    assert len(videos) == 2
    assert all(v["uri"].endswith(":download?alt=media") for v in videos)
    sent = fake.requests[0].json()
    assert sent == {
        "instances": [{"prompt": "a cat surfing"}],
        "parameters": {"aspectRatio": "16:9", "sampleCount": 2},
    }
    assert fake.requests[1].raw_path == f"/v1beta/{name}"  # the name's slashes kept


async def test_an_operation_name_cannot_climb_out_of_the_api() -> None:
    contract = TestGoogleGenAIContract()
    async with contract.served() as (url, fake):
        result = await execute(url, READ_VIDEO, {"name": "models/../../admin"})
    assert result.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert fake.count() == 0


async def test_errors_carry_the_google_envelope() -> None:
    contract = TestGoogleGenAIContract()
    async with contract.served() as (url, _):
        missing = await execute(
            url,
            'mutation { google_genai { generateContent(model: "gemini-9", contents: '
            '[{parts: [{text: "x"}]}]) { text } } }',
        )
        none = await execute(url, '{ google_genai { model(name: "gemini-9") { name } } }')
    error = missing.errors[0]
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert error["extensions"]["upstreamCode"] == "NOT_FOUND"
    assert "models/gemini-9 is not found" in error["message"]
    assert none.errors is None
    assert none.data == {"google_genai": {"model": None}}


async def test_a_subscription_streams_progress_until_the_video_is_done() -> None:
    contract = TestGoogleGenAIContract()
    async with contract.served() as (url, fake):
        started = await execute(url, START_VIDEO)
        name = started.data["google_genai"]["generateVideo"]["name"]
        events = []
        async with asyncio.timeout(30), Client(transport=ws_transport(url)) as session:
            document = gql(
                "subscription($name: ID!) { google_genai_videoProgress(name: $name, "
                "intervalMs: 100) { name done progressPercent videos { uri } } }"
            )
            document.variable_values = {"name": name}
            async for event in session.subscribe(document):
                events.append(event["google_genai_videoProgress"])
    assert [e["progressPercent"] for e in events] == [33, 66, None]
    assert [e["done"] for e in events] == [None, None, True]  # the stream ends when done
    assert len(events[-1]["videos"]) == 2
    assert fake.count("GET", f"/v1beta/{name}") == 3


async def test_a_subscription_reports_a_refused_key_as_an_error() -> None:
    contract = TestGoogleGenAIContract()
    async with contract.fake() as fake:
        runtime = Runtime()
        runtime.add(load_spec(builtin_spec("google_genai")), contract.wrong_config(fake))
        async with serving(runtime) as url:
            document = gql(
                'subscription { google_genai_videoProgress(name: "models/v/operations/1", '
                "intervalMs: 100) { done } }"
            )
            async with asyncio.timeout(30), Client(transport=ws_transport(url)) as session:
                with pytest.raises(TransportQueryError) as caught:
                    async for _ in session.subscribe(document):
                        pass
    errors = caught.value.errors or []
    assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert errors[0]["extensions"]["operation"] == "videoOperation"
    assert WRONG_KEY not in str(errors)
    assert fake.count() == 1
