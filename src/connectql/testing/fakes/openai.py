"""A fake of the OpenAI API (and OpenAI-compatible servers) as an aiohttp app.

    state = OpenAIState(api_keys={"sk-test-0123456789abcdef"})
    async with FakeUpstream(create_openai_app(state)) as upstream:
        ...  # connector base_url = f"{upstream.url}/v1"

Routes: `GET /v1/models`, `GET /v1/models/{id}`, `POST /v1/chat/completions`,
`POST /v1/embeddings`; anything else is OpenAI's 404 "Invalid URL (METHOD /path)".

Each known route checks, in order: bearer key, `OpenAI-Organization` / `OpenAI-Project`
(only when `state.organization` / `state.project` are set), `quota_exhausted`,
`rate_limit_next`, then the JSON body. Every answer, errors included, carries
`x-request-id`, `openai-processing-ms` and the `x-ratelimit-*` headers.

Deterministic behaviour, so tests can compare:
- the chat reply is "echo: " + the text of the last user message (cut to `max_tokens`,
  then finish_reason "length"); `n` repeats it;
- an embedding is `fake_embedding(text, dimensions)` (hash-seeded, unit length);
- tokens are counted as ceil(len(text) / 4), plus 3 per chat message and 3 per request.

Not supported by this fake (answered 400 with param "stream" / "input"): `stream: true`
("streaming not supported by this fake") and token-array embedding inputs. Tools,
response_format and the other chat parameters are accepted and ignored.

Unlike the real API, the response `model` is the requested id, not a dated snapshot.
"""

from __future__ import annotations

import base64
import json
import math
import struct
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any

from aiohttp import web

DEFAULT_API_KEY = "sk-test-0123456789abcdefwxyz"
SYSTEM_FINGERPRINT = "fp_f4ke0c0ffe"
ROLES = ("system", "developer", "user", "assistant", "tool", "function")
MAX_EMBEDDING_INPUTS = 2048
API_KEYS_URL = "https://platform.openai.com/account/api-keys"


@dataclass(frozen=True)
class FakeModel:
    id: str
    created: int
    owned_by: str = "system"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "model",
            "created": self.created,
            "owned_by": self.owned_by,
        }

    @property
    def is_embedding(self) -> bool:
        return self.id.startswith("text-embedding")


DEFAULT_MODELS = (
    FakeModel("gpt-4o-mini", 1721172741),
    FakeModel("gpt-4o", 1715367049),
    FakeModel("text-embedding-3-small", 1705948997),
    FakeModel("text-embedding-3-large", 1705953180),
    FakeModel("text-embedding-ada-002", 1671217299, "openai-internal"),
)


@dataclass
class OpenAIState:
    """Configuration, knobs and records of one fake OpenAI server."""

    api_keys: set[str] = field(default_factory=lambda: {DEFAULT_API_KEY})
    organization: str | None = None  # when set, a different OpenAI-Organization header is 401
    project: str | None = None  # when set, a different OpenAI-Project header is 401
    models: list[FakeModel] = field(default_factory=lambda: list(DEFAULT_MODELS))
    embedding_dimensions: int = 8  # vector length when a request has no `dimensions`
    # knobs
    rate_limit_next: int = 0  # the next N authenticated requests get 429 rate_limit_exceeded
    retry_after_ms: int = 20
    quota_exhausted: bool = False  # every authenticated request gets 429 insufficient_quota
    requests_limit: int = 10_000  # x-ratelimit-limit-requests
    tokens_limit: int = 200_000  # x-ratelimit-limit-tokens
    # records
    seen_headers: list[dict[str, str]] = field(default_factory=list)  # lower-cased, per request
    chat_calls: int = 0  # successful chat completions
    chat_requests: list[dict[str, Any]] = field(default_factory=list)  # their JSON bodies
    embedding_calls: int = 0  # successful embedding requests
    embedding_inputs: int = 0  # texts embedded over all of them
    embedding_batches: list[list[str]] = field(default_factory=list)  # the texts, per request

    def model(self, model_id: str) -> FakeModel | None:
        return next((m for m in self.models if m.id == model_id), None)


class OpenAIError(Exception):
    """An error answered in OpenAI's envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": type, "param": param, "code": code}}
        self.headers = headers or {}

    def response(self) -> web.Response:
        return web.json_response(self.body, status=self.status, headers=self.headers)


def _invalid(message: str, param: str | None, code: str | None = None) -> OpenAIError:
    return OpenAIError(400, message, param=param, code=code)


def fake_embedding(text: str, dimensions: int = 8) -> list[float]:
    """The fake's embedding of `text`: sha256-seeded, unit length, rounded to 6 places."""
    values: list[float] = []
    block = 0
    while len(values) < dimensions:
        values.extend(b / 127.5 - 1.0 for b in sha256(f"{block}:{text}".encode()).digest())
        block += 1
    values = values[:dimensions]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [round(v / norm, 6) for v in values]


def count_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def mask_key(key: str) -> str:
    """Mask an API key like OpenAI's error messages: first 5 chars, stars, last 4."""
    if len(key) < 10:
        return "*" * len(key)
    return key[:5] + "*" * max(3, len(key) - 9) + key[-4:]


def _format_wait(ms: int) -> str:
    return f"{ms}ms" if ms < 1000 else f"{ms / 1000:g}s"


# --- request checks -------------------------------------------------------------------------


def _authenticate(state: OpenAIState, request: web.Request) -> None:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise OpenAIError(
            401,
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or "
            "as the password field (with blank username) if you're accessing the API from your "
            "browser and are prompted for a username. "
            f"You can obtain an API key from {API_KEYS_URL}.",
        )
    if key not in state.api_keys:
        raise OpenAIError(
            401,
            f"Incorrect API key provided: {mask_key(key)}. "
            f"You can find your API key at {API_KEYS_URL}.",
            code="invalid_api_key",
        )
    organization = request.headers.get("OpenAI-Organization")
    if state.organization and organization is not None and organization != state.organization:
        raise OpenAIError(
            401,
            "OpenAI-Organization header should match organization for API key "
            f"(got {organization!r}).",
            code="invalid_organization",
        )
    project = request.headers.get("OpenAI-Project")
    if state.project and project is not None and project != state.project:
        raise OpenAIError(
            401,
            f"OpenAI-Project header should match project for API key (got {project!r}).",
            code="invalid_project",
        )


async def _throttle(state: OpenAIState, request: web.Request) -> None:
    if state.quota_exhausted:
        raise OpenAIError(
            429,
            "You exceeded your current quota, please check your plan and billing details. "
            "For more information on this error, read the docs: "
            "https://platform.openai.com/docs/guides/error-codes/api-errors.",
            type="insufficient_quota",
            code="insufficient_quota",
        )
    if state.rate_limit_next <= 0:
        return
    state.rate_limit_next -= 1
    model = "gpt-4o-mini"
    try:
        body = json.loads(await request.read())
        if isinstance(body, dict) and isinstance(body.get("model"), str):
            model = body["model"]
    except ValueError:
        pass
    wait = _format_wait(state.retry_after_ms)
    limit = state.requests_limit
    raise OpenAIError(
        429,
        f"Rate limit reached for {model} in organization {state.organization or 'org-fake'} "
        f"on requests per min (RPM): Limit {limit}, Used {limit}, Requested 1. "
        f"Please try again in {wait}. "
        "Visit https://platform.openai.com/account/rate-limits to learn more.",
        type="requests",
        code="rate_limit_exceeded",
        headers={
            "retry-after-ms": str(state.retry_after_ms),
            "retry-after": str(math.ceil(state.retry_after_ms / 1000)),
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": wait,
        },
    )


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read())
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise _invalid(
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but "
            "what was sent was not valid JSON. If you have trouble figuring out how to fix this, "
            "please contact us through our help center at help.openai.com.)",
            None,
        )
    return body


def _body_model(state: OpenAIState, body: dict[str, Any]) -> FakeModel:
    model_id = body.get("model")
    if not isinstance(model_id, str) or not model_id:
        raise _invalid("you must provide a model parameter", None)
    model = state.model(model_id)
    if model is None:
        raise OpenAIError(
            404,
            f"The model `{model_id}` does not exist or you do not have access to it.",
            param="model",
            code="model_not_found",
        )
    return model


def _int_param(
    body: dict[str, Any], name: str, default: int, low: int, high: int | None = None
) -> int:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid(f"{value!r} is not of type 'integer' - '{name}'", name, "invalid_type")
    if value < low:
        raise _invalid(
            f"{value} is less than the minimum of {low} - '{name}'", name, "invalid_value"
        )
    if high is not None and value > high:
        raise _invalid(
            f"{value} is greater than the maximum of {high} - '{name}'", name, "invalid_value"
        )
    return value


# --- handlers -------------------------------------------------------------------------------

Handler = Callable[[web.Request, OpenAIState], Awaitable[web.Response]]


async def list_models(request: web.Request, state: OpenAIState) -> web.Response:
    return web.json_response({"object": "list", "data": [m.as_json() for m in state.models]})


async def get_model(request: web.Request, state: OpenAIState) -> web.Response:
    model_id = request.match_info["model"]
    model = state.model(model_id)
    if model is None:
        raise OpenAIError(
            404,
            f"The model '{model_id}' does not exist",
            param="model",
            code="model_not_found",
        )
    return web.json_response(model.as_json())


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return content if isinstance(content, str) else ""


def _chat_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if messages is None:
        raise _invalid(
            "Missing required parameter: 'messages'.", "messages", "missing_required_parameter"
        )
    if not isinstance(messages, list):
        raise _invalid(
            f"{messages!r} is not of type 'array' - 'messages'", "messages", "invalid_type"
        )
    if not messages:
        raise _invalid("[] is too short - 'messages'", "messages", "invalid_value")
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ROLES:
            supported = ", ".join(f"'{r}'" for r in ROLES)
            raise _invalid(
                f"Invalid value: {role!r}. Supported values are: {supported}.",
                f"messages.[{i}].role",
                "invalid_value",
            )
    return messages


async def chat_completions(request: web.Request, state: OpenAIState) -> web.Response:
    body = await _json_body(request)
    model = _body_model(state, body)
    if model.is_embedding:
        raise OpenAIError(
            404,
            "This is not a chat model and thus not supported in the v1/chat/completions "
            "endpoint. Did you mean to use v1/completions?",
            param="model",
        )
    if body.get("stream"):
        raise _invalid("streaming not supported by this fake", "stream")
    messages = _chat_messages(body)
    n = _int_param(body, "n", 1, 1, 128)
    max_tokens = _int_param(body, "max_tokens", 0, 1) or _int_param(
        body, "max_completion_tokens", 0, 1
    )
    temperature = body.get("temperature", 1)
    if not isinstance(temperature, int | float) or not 0 <= temperature <= 2:
        raise _invalid(
            f"{temperature!r} is not a number between 0 and 2 - 'temperature'",
            "temperature",
            "invalid_value",
        )

    user_texts = [_message_text(m) for m in messages if m["role"] == "user"]
    reply = "echo: " + (user_texts[-1] if user_texts else "")
    finish_reason = "stop"
    if max_tokens and count_tokens(reply) > max_tokens:
        reply, finish_reason = reply[: max_tokens * 4], "length"
    prompt_tokens = 3 + sum(3 + count_tokens(_message_text(m)) for m in messages)
    completion_tokens = n * count_tokens(reply)

    state.chat_calls += 1
    state.chat_requests.append(body)
    return web.json_response(
        {
            "id": f"chatcmpl-{uuid.uuid4().hex[:29]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model.id,
            "choices": [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": reply, "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
                for i in range(n)
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            "service_tier": "default",
            "system_fingerprint": SYSTEM_FINGERPRINT,
        }
    )


def _embedding_inputs(body: dict[str, Any]) -> list[str]:
    raw = body.get("input")
    if raw is None:
        raise _invalid(
            "Missing required parameter: 'input'.", "input", "missing_required_parameter"
        )
    inputs = [raw] if isinstance(raw, str) else raw
    if (
        not isinstance(inputs, list)
        or not inputs
        or not all(isinstance(text, str) and text for text in inputs)
    ):
        raise _invalid(
            "'$.input' is invalid. Please check the API reference: "
            "https://platform.openai.com/docs/api-reference.",
            "input",
        )
    if len(inputs) > MAX_EMBEDDING_INPUTS:
        raise _invalid(
            f"Invalid 'input': array too long. Expected an array with maximum length "
            f"{MAX_EMBEDDING_INPUTS}, but got an array with length {len(inputs)} instead.",
            "input",
            "array_above_max_length",
        )
    return inputs


async def embeddings(request: web.Request, state: OpenAIState) -> web.Response:
    body = await _json_body(request)
    model = _body_model(state, body)
    inputs = _embedding_inputs(body)
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise _invalid(
            f"{encoding!r} is not one of ['float', 'base64'] - 'encoding_format'",
            "encoding_format",
            "invalid_value",
        )
    if "dimensions" in body and model.id == "text-embedding-ada-002":
        raise _invalid("This model does not support specifying dimensions.", "dimensions")
    dimensions = _int_param(body, "dimensions", state.embedding_dimensions, 1)

    data = []
    for index, text in enumerate(inputs):
        vector = fake_embedding(text, dimensions)
        embedding: list[float] | str = vector
        if encoding == "base64":
            embedding = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = sum(count_tokens(text) for text in inputs)

    state.embedding_calls += 1
    state.embedding_inputs += len(inputs)
    state.embedding_batches.append(inputs)
    return web.json_response(
        {
            "object": "list",
            "data": data,
            "model": model.id,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


async def invalid_url(request: web.Request, state: OpenAIState) -> web.Response:
    raise OpenAIError(404, f"Invalid URL ({request.method} {request.path})")


# --- app ------------------------------------------------------------------------------------


def _endpoint(
    state: OpenAIState, handler: Handler, *, authenticated: bool = True
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def wrapped(request: web.Request) -> web.Response:
        started = time.perf_counter()
        state.seen_headers.append({k.lower(): v for k, v in request.headers.items()})
        try:
            if authenticated:
                _authenticate(state, request)
                await _throttle(state, request)
            response = await handler(request, state)
        except OpenAIError as error:
            response = error.response()
        body_tokens = count_tokens((await request.read()).decode(errors="replace"))
        headers = {
            "x-request-id": f"req_{uuid.uuid4().hex}",
            "openai-organization": state.organization or "org-fake",
            "openai-version": "2020-10-01",
            "openai-processing-ms": str(int((time.perf_counter() - started) * 1000)),
            "x-ratelimit-limit-requests": str(state.requests_limit),
            "x-ratelimit-remaining-requests": str(state.requests_limit - 1),
            "x-ratelimit-reset-requests": "1s",
            "x-ratelimit-limit-tokens": str(state.tokens_limit),
            "x-ratelimit-remaining-tokens": str(max(0, state.tokens_limit - body_tokens)),
            "x-ratelimit-reset-tokens": "0s",
        }
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response

    return wrapped


def create_openai_app(state: OpenAIState) -> web.Application:
    app = web.Application()
    app.router.add_get("/v1/models", _endpoint(state, list_models))
    app.router.add_get("/v1/models/{model}", _endpoint(state, get_model))
    app.router.add_post("/v1/chat/completions", _endpoint(state, chat_completions))
    app.router.add_post("/v1/embeddings", _endpoint(state, embeddings))
    app.router.add_route("*", "/{tail:.*}", _endpoint(state, invalid_url, authenticated=False))
    return app
