"""The official google-genai SDK against the fake Gemini API: its requests pass the same checks
as the connector's, and the fake's request messages agree with the SDK's pydantic types."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from google import genai
from google.genai import types

from connectql.connectors.builtin import builtin_spec
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec
from connectql.testing import FakeUpstream
from connectql.testing.fakes import google_genai as fake_api
from connectql.testing.fakes.google_genai import (
    DEFAULT_API_KEY,
    FakeModel,
    GenAIState,
    create_genai_app,
    fake_embedding,
)
from tests.support import execute, serving

# The SDK's async client subclasses aiohttp.ClientSession, which aiohttp warns against.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Inheritance class AiohttpClientSession:DeprecationWarning"
)

SDK_TYPES = {
    "Content": types.Content,
    "Part": types.Part,
    "Blob": types.Blob,
    "FileData": types.FileData,
    "SafetySetting": types.SafetySetting,
    "ThinkingConfig": types.ThinkingConfig,
    "GenerationConfig": types.GenerationConfig,
}


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeUpstream, GenAIState]]:
    state = GenAIState()
    async with FakeUpstream(create_genai_app(state)) as upstream:
        yield upstream, state
    assert state.violations == []


def sdk_client(fake: FakeUpstream) -> genai.Client:
    options = types.HttpOptions(base_url=fake.url, api_version="v1beta", timeout=10_000)
    return genai.Client(api_key=DEFAULT_API_KEY, http_options=options)


@pytest.mark.parametrize("message", sorted(SDK_TYPES))
def test_the_fakes_messages_are_the_sdks(message: str) -> None:
    aliases = {f.alias or n for n, f in SDK_TYPES[message].model_fields.items()}
    fields = {name.lstrip("!") for name in fake_api.MESSAGES[message]}
    assert fields <= aliases, fields - aliases


def test_the_fakes_enums_are_the_sdks() -> None:
    assert set(fake_api.HARM_CATEGORIES) <= {c.value for c in types.HarmCategory}
    assert set(fake_api.THRESHOLDS) <= {t.value for t in types.HarmBlockThreshold}


async def test_the_sdk_passes_the_fakes_checks(fake: tuple[FakeUpstream, GenAIState]) -> None:
    upstream, state = fake
    state.models += [FakeModel(f"tuned-{i}") for i in range(5)]  # 12 models: 3 pages of 5
    client = sdk_client(upstream)
    try:
        config = types.GenerateContentConfig(
            system_instruction="Be brief.",
            temperature=0.2,
            max_output_tokens=64,
            top_k=40,
            stop_sequences=["END"],
            safety_settings=[
                types.SafetySetting(
                    category=types.HarmCategory.HARM_CATEGORY_HARASSMENT,
                    threshold=types.HarmBlockThreshold.BLOCK_ONLY_HIGH,
                )
            ],
        )
        answer = await client.aio.models.generate_content(
            model="gemini-2.5-flash", contents="hello there", config=config
        )
        counted = await client.aio.models.count_tokens(
            model="gemini-2.5-flash", contents="sixteen chars!!!"
        )
        texts = [f"text number {i}" for i in range(20)]
        embedded = await client.aio.models.embed_content(
            model="gemini-embedding-001", contents=texts
        )
        pager = await client.aio.models.list(config={"page_size": 5})
        names = [m.name async for m in pager]
        state.videos["models/veo-3.0-generate-001/operations/op1"] = fake_api.VideoJob(
            "models/veo-3.0-generate-001/operations/op1", "a cat", 1
        )
        operation = types.GenerateVideosOperation(name="models/veo-3.0-generate-001/operations/op1")
        for _ in range(state.video_polls):  # bounded: done on the third read
            operation = await client.aio.operations.get(operation)
    finally:
        await client.aio.aclose()
    assert answer.text == "echo: hello there"
    assert counted.total_tokens == 4
    assert upstream.count("POST", "/v1beta/models/gemini-embedding-001:batchEmbedContents") == 1
    assert [e.values for e in embedded.embeddings or []] == [fake_embedding(t) for t in texts]
    assert names == [f"models/{m.name}" for m in state.models]
    assert upstream.count("GET", "/v1beta/models") == 3
    assert operation.done
    assert operation.response is not None
    videos = operation.response.generated_videos or []
    assert [v.video.uri for v in videos if v.video] == [
        f"https://{fake_api.SERVICE}/v1beta/files/op1-0:download?alt=media"
    ]
    assert all(h["x-goog-api-key"] == DEFAULT_API_KEY for h in state.seen_headers)


async def test_the_connector_and_the_sdk_send_the_same_bodies(
    fake: tuple[FakeUpstream, GenAIState],
) -> None:
    upstream, _state = fake
    client = sdk_client(upstream)
    try:
        await client.aio.models.generate_content(
            model="gemini-2.5-flash",
            contents="hello there",
            config=types.GenerateContentConfig(
                system_instruction="Be brief.", temperature=0.2, max_output_tokens=64
            ),
        )
        await client.aio.models.embed_content(
            model="gemini-embedding-001", contents=["alpha", "beta"]
        )
    finally:
        await client.aio.aclose()
    sdk_bodies = [r.json() for r in upstream.requests]
    upstream.requests.clear()

    runtime = Runtime()
    runtime.add(
        load_spec(builtin_spec("google_genai")),
        {"base_url": f"{upstream.url}/v1beta", "api_key": DEFAULT_API_KEY},
    )
    async with serving(runtime) as url:
        generated = await execute(
            url,
            'mutation { google_genai { generateContent(model: "gemini-2.5-flash", '
            'contents: [{role: USER, parts: [{text: "hello there"}]}], '
            'systemInstruction: {role: USER, parts: [{text: "Be brief."}]}, '
            "generationConfig: {temperature: 0.2, maxOutputTokens: 64}) { text } } }",
        )
        embedded = await execute(
            url, '{ google_genai { a: embedding(text: "alpha") b: embedding(text: "beta") } }'
        )
    assert generated.errors is None
    assert embedded.errors is None
    ours = [r.json() for r in upstream.requests]
    assert ours == sdk_bodies
    assert [r.path for r in upstream.requests] == [
        "/v1beta/models/gemini-2.5-flash:generateContent",
        "/v1beta/models/gemini-embedding-001:batchEmbedContents",
    ]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        pytest.param(
            {"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"temprature": 1}},
            "Unknown name \"temprature\" at 'generation_config'",
            id="unknown-field",
        ),
        pytest.param(
            {"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"topK": "many"}},
            "Invalid value at 'generation_config.top_k' (TYPE_INT32)",
            id="wrong-type",
        ),
        pytest.param(
            {
                "contents": [{"parts": [{"text": "x"}]}],
                "safetySettings": [{"category": "HARM_CATEGORY_NICE", "threshold": "OFF"}],
            },
            "Invalid value at 'safety_settings.category'",
            id="unknown-enum",
        ),
        pytest.param(
            {"systemInstruction": {}}, "contents: required field is missing", id="no-contents"
        ),
    ],
)
async def test_the_fake_refuses_what_the_api_refuses(body: dict[str, Any], problem: str) -> None:
    state = GenAIState()
    async with (
        FakeUpstream(create_genai_app(state)) as upstream,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
    ):
        url = f"{upstream.url}/v1beta/models/gemini-2.5-flash:generateContent"
        headers = {"x-goog-api-key": DEFAULT_API_KEY}
        async with session.post(url, json=body, headers=headers) as response:
            answer = await response.json()
    assert response.status == 400
    assert answer["error"]["status"] == "INVALID_ARGUMENT"
    assert problem in answer["error"]["message"]
    assert [p for _, p in state.violations if problem in p]
