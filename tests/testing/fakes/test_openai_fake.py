"""The OpenAI fake itself, driven by a plain aiohttp client."""

from __future__ import annotations

import base64
import struct
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDictProxy

from connectql.testing import FakeUpstream
from connectql.testing.fakes.openai import OpenAIState, create_openai_app, fake_embedding, mask_key

KEY = "sk-test-abcdefghijklmnop-wxyz"
AUTH = {"Authorization": f"Bearer {KEY}"}
RATE_LIMIT_HEADERS = (
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-tokens",
)


@pytest.fixture
def state() -> OpenAIState:
    return OpenAIState(api_keys={KEY})


@pytest.fixture
async def upstream(state: OpenAIState) -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(create_openai_app(state)) as upstream:
        yield upstream


@pytest.fixture
async def http(upstream: FakeUpstream) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession(f"{upstream.url}/v1/") as session:
        yield Client(session)


class Client:
    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
    ) -> tuple[int, Any, CIMultiDictProxy[str]]:
        async with self.session.request(
            method, path, json=body, data=data, headers=AUTH if headers is None else headers
        ) as response:
            return response.status, await response.json(), response.headers

    async def post(
        self, path: str, body: Any, **kwargs: Any
    ) -> tuple[int, Any, CIMultiDictProxy[str]]:
        return await self.call("POST", path, body, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> tuple[int, Any, CIMultiDictProxy[str]]:
        return await self.call("GET", path, **kwargs)


def chat(content: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], **extra}


# --- auth -----------------------------------------------------------------------------------


async def test_missing_key_is_401(http: Client) -> None:
    status, body, headers = await http.get("models", headers={})
    assert status == 401
    error = body["error"]
    assert error["message"].startswith("You didn't provide an API key.")
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", None, None)
    assert headers["x-request-id"].startswith("req_")


async def test_wrong_key_is_401_with_masked_key(http: Client) -> None:
    wrong = "sk-abcdefghijklmnopqrstuvwxyz"
    status, body, _ = await http.get("models", headers={"Authorization": f"Bearer {wrong}"})
    assert status == 401
    assert body["error"]["code"] == "invalid_api_key"
    message = body["error"]["message"]
    assert message.startswith(f"Incorrect API key provided: sk-ab{'*' * 20}wxyz.")
    assert "https://platform.openai.com/account/api-keys" in message
    assert wrong not in message


def test_mask_key() -> None:
    assert mask_key("sk-abcdewxyz") == "sk-ab***wxyz"
    assert mask_key("short") == "*****"


@pytest.mark.parametrize(
    ("header", "field", "code"),
    [
        ("OpenAI-Organization", "organization", "invalid_organization"),
        ("OpenAI-Project", "project", "invalid_project"),
    ],
)
async def test_org_and_project_must_match(
    http: Client, state: OpenAIState, header: str, field: str, code: str
) -> None:
    setattr(state, field, "expected-id")
    status, body, _ = await http.get("models", headers={**AUTH, header: "other-id"})
    assert status == 401
    assert body["error"]["code"] == code
    assert header in body["error"]["message"]

    status, _, _ = await http.get("models", headers={**AUTH, header: "expected-id"})
    assert status == 200
    status, _, _ = await http.get("models")  # the header is optional
    assert status == 200
    assert [h.get(header.lower()) for h in state.seen_headers] == ["other-id", "expected-id", None]


async def test_every_response_has_request_and_rate_limit_headers(http: Client) -> None:
    for status, _, headers in (await http.get("models"), await http.get("nope")):
        assert status in (200, 404)
        assert headers["x-request-id"].startswith("req_")
        assert int(headers["openai-processing-ms"]) >= 0
        for name in RATE_LIMIT_HEADERS:
            assert name in headers
        assert headers["x-ratelimit-reset-requests"] == "1s"


# --- models ---------------------------------------------------------------------------------


async def test_models_list_and_get(http: Client) -> None:
    status, body, _ = await http.get("models")
    assert status == 200
    assert body["object"] == "list"
    first = {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"}
    assert first in body["data"]

    status, body, _ = await http.get("models/gpt-4o-mini")
    assert (status, body) == (200, first)

    status, body, _ = await http.get("models/x")
    assert status == 404
    assert body["error"] == {
        "message": "The model 'x' does not exist",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }


# --- chat completions -----------------------------------------------------------------------


async def test_chat_completion_shape(http: Client, state: OpenAIState) -> None:
    request = {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [{"type": "text", "text": "second question"}]},
        ],
        "temperature": 0.2,
    }
    status, body, _ = await http.post("chat/completions", request)
    assert status == 200
    assert body["id"].startswith("chatcmpl-")
    assert body["object"] == "chat.completion"
    assert isinstance(body["created"], int)
    assert body["model"] == "gpt-4o-mini"
    assert body["system_fingerprint"].startswith("fp_")
    assert body["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "echo: second question", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    usage = body["usage"]
    assert usage["prompt_tokens"] > 0
    assert usage["completion_tokens"] == 6  # ceil(len("echo: second question") / 4)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert state.chat_calls == 1
    assert state.chat_requests == [request]


async def test_chat_n_and_max_tokens(http: Client) -> None:
    status, body, _ = await http.post("chat/completions", chat("a long message", n=2, max_tokens=2))
    assert status == 200
    assert [c["index"] for c in body["choices"]] == [0, 1]
    assert {c["finish_reason"] for c in body["choices"]} == {"length"}
    assert body["choices"][0]["message"]["content"] == "echo: a "
    assert body["usage"]["completion_tokens"] == 4


@pytest.mark.parametrize(
    ("request_body", "status", "param", "code"),
    [
        ({"model": "gpt-4o-mini", "messages": []}, 400, "messages", "invalid_value"),
        ({"model": "gpt-4o-mini"}, 400, "messages", "missing_required_parameter"),
        (
            {"model": "gpt-4o-mini", "messages": [{"role": "bogus", "content": "x"}]},
            400,
            "messages.[0].role",
            "invalid_value",
        ),
        (chat(temperature=3), 400, "temperature", "invalid_value"),
        (chat(n=0), 400, "n", "invalid_value"),
        (chat(stream=True), 400, "stream", None),
        ({"messages": [{"role": "user", "content": "x"}]}, 400, None, None),
        (chat(model="gpt-9"), 404, "model", "model_not_found"),
        (chat(model="text-embedding-3-small"), 404, "model", None),
    ],
)
async def test_chat_validation(
    http: Client,
    state: OpenAIState,
    request_body: dict[str, Any],
    status: int,
    param: str | None,
    code: str | None,
) -> None:
    got, body, _ = await http.post("chat/completions", request_body)
    assert got == status
    error = body["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)
    assert state.chat_calls == 0


async def test_empty_messages_message(http: Client) -> None:
    _, body, _ = await http.post("chat/completions", {"model": "gpt-4o-mini", "messages": []})
    assert body["error"]["message"] == "[] is too short - 'messages'"


# --- embeddings -----------------------------------------------------------------------------


async def test_embedding_single_input(http: Client, state: OpenAIState) -> None:
    status, body, _ = await http.post(
        "embeddings", {"model": "text-embedding-3-small", "input": "hello world"}
    )
    assert status == 200
    assert body["object"] == "list"
    assert body["model"] == "text-embedding-3-small"
    assert body["data"] == [
        {"object": "embedding", "index": 0, "embedding": fake_embedding("hello world")}
    ]
    assert len(body["data"][0]["embedding"]) == 8
    assert body["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    assert (state.embedding_calls, state.embedding_inputs) == (1, 1)


async def test_embedding_batch_order_determinism_and_counters(
    http: Client, state: OpenAIState
) -> None:
    texts = ["alpha", "beta", "gamma"]
    request = {"model": "text-embedding-3-small", "input": texts, "dimensions": 16}
    _, first, _ = await http.post("embeddings", request)
    _, second, _ = await http.post("embeddings", {**request, "input": ["gamma"]})

    assert [d["index"] for d in first["data"]] == [0, 1, 2]
    vectors = [d["embedding"] for d in first["data"]]
    assert vectors == [fake_embedding(t, 16) for t in texts]
    assert len({tuple(v) for v in vectors}) == 3
    assert all(len(v) == 16 for v in vectors)
    assert second["data"][0]["embedding"] == vectors[2]  # same text, same vector
    assert abs(sum(x * x for x in vectors[0]) - 1) < 1e-4

    assert state.embedding_calls == 2
    assert state.embedding_inputs == 4
    assert state.embedding_batches == [texts, ["gamma"]]


async def test_embedding_base64(http: Client) -> None:
    request = {"model": "text-embedding-3-small", "input": "hi", "encoding_format": "base64"}
    _, body, _ = await http.post("embeddings", request)
    raw = base64.b64decode(body["data"][0]["embedding"])
    decoded = struct.unpack("<8f", raw)
    assert decoded == pytest.approx(fake_embedding("hi"), abs=1e-6)


@pytest.mark.parametrize(
    ("request_body", "status", "param"),
    [
        ({"model": "text-embedding-3-small", "input": []}, 400, "input"),
        ({"model": "text-embedding-3-small", "input": ""}, 400, "input"),
        ({"model": "text-embedding-3-small", "input": ["x"] * 2049}, 400, "input"),
        ({"model": "text-embedding-3-small"}, 400, "input"),
        ({"model": "text-embedding-3-small", "input": "x", "dimensions": 0}, 400, "dimensions"),
        (
            {"model": "text-embedding-3-small", "input": "x", "encoding_format": "int8"},
            400,
            "encoding_format",
        ),
        ({"model": "text-embedding-4", "input": "x"}, 404, "model"),
    ],
)
async def test_embedding_validation(
    http: Client, state: OpenAIState, request_body: dict[str, Any], status: int, param: str
) -> None:
    got, body, _ = await http.post("embeddings", request_body)
    assert got == status
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["param"] == param
    assert state.embedding_calls == 0


async def test_embedding_max_inputs_accepted(http: Client, state: OpenAIState) -> None:
    inputs = [f"t{i}" for i in range(2048)]
    status, body, _ = await http.post(
        "embeddings", {"model": "text-embedding-3-small", "input": inputs}
    )
    assert status == 200
    assert [d["index"] for d in body["data"]] == list(range(2048))
    assert state.embedding_inputs == 2048


# --- throttling -----------------------------------------------------------------------------


async def test_rate_limit_next(http: Client, state: OpenAIState) -> None:
    state.rate_limit_next = 2
    for _ in range(2):
        status, body, headers = await http.post("chat/completions", chat())
        assert status == 429
        error = body["error"]
        assert (error["type"], error["code"]) == ("requests", "rate_limit_exceeded")
        assert error["message"].startswith("Rate limit reached for gpt-4o-mini in organization")
        assert "Please try again in 20ms." in error["message"]
        assert headers["retry-after-ms"] == "20"
        assert headers["retry-after"] == "1"
        assert headers["x-ratelimit-remaining-requests"] == "0"
    status, _, _ = await http.post("chat/completions", chat())
    assert status == 200
    assert state.rate_limit_next == 0
    assert state.chat_calls == 1


async def test_rate_limit_custom_retry_after(http: Client, state: OpenAIState) -> None:
    state.rate_limit_next, state.retry_after_ms = 1, 1500
    status, body, headers = await http.get("models")
    assert status == 429
    assert (headers["retry-after-ms"], headers["retry-after"]) == ("1500", "2")
    assert "Please try again in 1.5s." in body["error"]["message"]


async def test_insufficient_quota(http: Client, state: OpenAIState) -> None:
    state.quota_exhausted = True
    requests = [
        ("chat/completions", chat()),
        ("embeddings", {"model": "text-embedding-3-small", "input": "x"}),
    ]
    for path, request in requests:
        status, body, headers = await http.post(path, request)
        assert status == 429
        assert body["error"]["message"].startswith("You exceeded your current quota")
        assert body["error"]["type"] == body["error"]["code"] == "insufficient_quota"
        assert "retry-after" not in headers
        assert "retry-after-ms" not in headers


async def test_auth_precedes_throttling(http: Client, state: OpenAIState) -> None:
    state.rate_limit_next = 1
    status, _, _ = await http.get("models", headers={})
    assert status == 401
    assert state.rate_limit_next == 1


# --- routing and bodies ---------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [("POST", "xyz"), ("GET", "chat/completions")])
async def test_unknown_route(http: Client, upstream: FakeUpstream, method: str, path: str) -> None:
    status, body, _ = await http.call(method, path, {} if method == "POST" else None)
    assert status == 404
    assert body["error"] == {
        "message": f"Invalid URL ({method} /v1/{path})",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    assert upstream.count(method, f"/v1/{path}") == 1


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]"])
async def test_malformed_json(http: Client, raw: bytes) -> None:
    headers = {**AUTH, "Content-Type": "application/json"}
    status, body, _ = await http.call("POST", "chat/completions", data=raw, headers=headers)
    assert status == 400
    error = body["error"]
    assert error["message"].startswith("We could not parse the JSON body of your request.")
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", None, None)
