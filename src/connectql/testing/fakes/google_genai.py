"""A fake of the Gemini API (generativelanguage.googleapis.com, v1beta) as an aiohttp app.

    state = GenAIState()
    async with FakeUpstream(create_genai_app(state)) as upstream:
        ...  # connector base_url = f"{upstream.url}/v1beta"; assert state.violations == []

Routes under `/v1beta`: `GET models` (pageSize/pageToken), `GET models/{m}`,
`POST models/{m}:generateContent | :countTokens | :embedContent | :batchEmbedContents |
:predictLongRunning`, `GET models/{m}/operations/{id}`; anything else is Google's 404.

Every request is checked like the real service: the API key (`x-goog-api-key` header or
`key` query parameter; missing → 403 PERMISSION_DENIED, unknown → 400 INVALID_ARGUMENT with
ErrorInfo reason API_KEY_INVALID), then the JSON body against `MESSAGES`, the REST request
messages (field names in camelCase or snake_case as protobuf JSON accepts, types, enums,
required fields). A body that breaks them is answered 400 as Google words it and recorded in
`state.violations`, so a test can assert that no request broke the API's shapes.

Deterministic behaviour: a reply is "echo: " + the last user text (cut to `maxOutputTokens`
tokens, then finishReason MAX_TOKENS); a prompt containing "forbidden" is blocked (SAFETY) by
any setting of HARM_CATEGORY_DANGEROUS_CONTENT other than BLOCK_NONE/OFF; tokens are
ceil(len(text) / 4); an embedding is `fake_embedding(text, dims)`. A video operation is done
after `state.video_polls` reads of it, with `metadata.progressPercent` rising until then.

Not enforced: content size and token limits, tools and tool config, response schemas,
function calls and speech config (accepted as any object), the contents of Veo `parameters`
values (only their names and JSON types), quota per model or per minute (429s come only from
`rate_limit_next`), `v1` (only `v1beta` is served). Not served: streaming
(`streamGenerateContent`), files, cached contents, tuned models, batches, `operations` lists.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from connectql.testing.fakes.openai import count_tokens, fake_embedding

DEFAULT_API_KEY = "AIzaSyFAKE-genai-0123456789abcdefghij"
MAX_BATCH_EMBED = 100
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 50
SERVICE = "generativelanguage.googleapis.com"
TYPE_PREFIX = "type.googleapis.com/google.ai.generativelanguage.v1beta."

# --- the REST request messages ------------------------------------------------------------

HARM_CATEGORIES = (
    "HARM_CATEGORY_UNSPECIFIED",
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
    "HARM_CATEGORY_CIVIC_INTEGRITY",
)
THRESHOLDS = (
    "HARM_BLOCK_THRESHOLD_UNSPECIFIED",
    "BLOCK_LOW_AND_ABOVE",
    "BLOCK_MEDIUM_AND_ABOVE",
    "BLOCK_ONLY_HIGH",
    "BLOCK_NONE",
    "OFF",
)
TASK_TYPES = (
    "TASK_TYPE_UNSPECIFIED",
    "RETRIEVAL_QUERY",
    "RETRIEVAL_DOCUMENT",
    "SEMANTIC_SIMILARITY",
    "CLASSIFICATION",
    "CLUSTERING",
    "QUESTION_ANSWERING",
    "FACT_VERIFICATION",
    "CODE_RETRIEVAL_QUERY",
)

# A field is (kind, detail): "string" | "int" | "number" | "bool" | "any" | ("enum", values)
# | ("message", name) | ("list", field); a message maps camelCase names to fields, and
# "!name" marks a required one.
Field = Any
MESSAGES: dict[str, dict[str, Field]] = {
    "Content": {"role": ("enum", ("user", "model")), "parts": ("list", ("message", "Part"))},
    "Part": {
        "text": "string",
        "inlineData": ("message", "Blob"),
        "fileData": ("message", "FileData"),
        "functionCall": "any",
        "functionResponse": "any",
        "executableCode": "any",
        "codeExecutionResult": "any",
        "videoMetadata": "any",
        "thought": "bool",
        "thoughtSignature": "string",
    },
    "Blob": {"!mimeType": "string", "!data": "string"},
    "FileData": {"mimeType": "string", "!fileUri": "string"},
    "SafetySetting": {
        "!category": ("enum", HARM_CATEGORIES),
        "!threshold": ("enum", THRESHOLDS),
    },
    "ThinkingConfig": {
        "includeThoughts": "bool",
        "thinkingBudget": "int",
        "thinkingLevel": ("enum", ("THINKING_LEVEL_UNSPECIFIED", "LOW", "MEDIUM", "HIGH")),
    },
    "GenerationConfig": {
        "stopSequences": ("list", "string"),
        "responseMimeType": "string",
        "responseSchema": "any",
        "responseJsonSchema": "any",
        "responseModalities": ("list", ("enum", ("TEXT", "IMAGE", "AUDIO"))),
        "candidateCount": "int",
        "maxOutputTokens": "int",
        "temperature": "number",
        "topP": "number",
        "topK": "int",
        "seed": "int",
        "presencePenalty": "number",
        "frequencyPenalty": "number",
        "responseLogprobs": "bool",
        "logprobs": "int",
        "enableEnhancedCivicAnswers": "bool",
        "speechConfig": "any",
        "thinkingConfig": ("message", "ThinkingConfig"),
        "mediaResolution": "string",
    },
    "GenerateContentRequest": {
        "model": "string",
        "!contents": ("list", ("message", "Content")),
        "tools": ("list", "any"),
        "toolConfig": "any",
        "safetySettings": ("list", ("message", "SafetySetting")),
        "systemInstruction": ("message", "Content"),
        "generationConfig": ("message", "GenerationConfig"),
        "cachedContent": "string",
    },
    "CountTokensRequest": {
        "contents": ("list", ("message", "Content")),
        "generateContentRequest": ("message", "GenerateContentRequest"),
    },
    "EmbedContentRequest": {
        "model": "string",
        "!content": ("message", "Content"),
        "taskType": ("enum", TASK_TYPES),
        "title": "string",
        "outputDimensionality": "int",
    },
    "BatchEmbedContentsRequest": {
        "!requests": ("list", ("message", "EmbedContentRequest")),
    },
    "VideoInstance": {
        "prompt": "string",
        "image": "any",
        "lastFrame": "any",
        "video": "any",
        "referenceImages": ("list", "any"),
    },
    "VideoParameters": {
        "aspectRatio": "string",
        "negativePrompt": "string",
        "personGeneration": "string",
        "sampleCount": "int",
        "durationSeconds": "int",
        "seed": "int",
        "resolution": "string",
        "enhancePrompt": "bool",
        "generateAudio": "bool",
    },
    "PredictLongRunningRequest": {
        "!instances": ("list", ("message", "VideoInstance")),
        "parameters": ("message", "VideoParameters"),
    },
}

_PROTO_TYPE = {"string": "TYPE_STRING", "int": "TYPE_INT32", "number": "TYPE_FLOAT"}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def check_message(message: str, value: Any, where: str = "") -> list[str]:
    """Google's wording of every way `value` breaks the REST message `message`."""
    if not isinstance(value, dict):
        return [f"Invalid JSON payload received. Expected an object at '{where}'."]
    fields = {name.lstrip("!"): kind for name, kind in MESSAGES[message].items()}
    required = [name[1:] for name in MESSAGES[message] if name.startswith("!")]
    problems: list[str] = []
    seen: set[str] = set()
    for key, item in value.items():
        name = _camel(key)
        if name not in fields:
            at = f" at '{where}'" if where else ""
            problems.append(
                f'Invalid JSON payload received. Unknown name "{key}"{at}: Cannot find field.'
            )
            continue
        seen.add(name)
        problems += _check_field(fields[name], item, f"{where}.{_snake(name)}".lstrip("."))
    for name in required:
        if name not in seen:
            at = f"{where}.{_snake(name)}".lstrip(".")
            problems.append(f"* {message}.{at}: required field is missing")
    return problems


def _check_field(kind: Field, value: Any, where: str) -> list[str]:
    if value is None or kind == "any":
        return []
    if isinstance(kind, tuple):
        tag, detail = kind
        if tag == "message":
            return check_message(detail, value, where)
        if tag == "list":
            if not isinstance(value, list):
                return [f"Invalid value at '{where}', expected a list."]
            return [p for i, v in enumerate(value) for p in _check_field(detail, v, where)][:20]
        if tag == "enum":
            if value not in detail:
                return [f"Invalid value at '{where}' (type.googleapis.com/enum), {value!r}"]
            return []
    ok = {
        "string": isinstance(value, str),
        "bool": isinstance(value, bool),
        # protobuf's JSON parser takes an int as a number without a fraction, or its digits
        "int": (
            (isinstance(value, int | float) and not isinstance(value, bool))
            and float(value).is_integer()
        )
        or (isinstance(value, str) and value.lstrip("-").isdigit()),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
    }[kind]
    if ok:
        return []
    return [f"Invalid value at '{where}' ({_PROTO_TYPE.get(kind, 'TYPE_BOOL')}), {value!r}"]


# --- state -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeModel:
    name: str  # without "models/"
    methods: tuple[str, ...] = ("generateContent", "countTokens")
    input_token_limit: int = 1_048_576
    output_token_limit: int = 8192

    def as_json(self) -> dict[str, Any]:
        return {
            "name": f"models/{self.name}",
            "version": "001",
            "displayName": self.name.replace("-", " ").title(),
            "description": f"The fake {self.name}.",
            "inputTokenLimit": self.input_token_limit,
            "outputTokenLimit": self.output_token_limit,
            "supportedGenerationMethods": list(self.methods),
        }


_EMBED = ("embedContent", "batchEmbedContents", "countTokens")
DEFAULT_MODELS = (
    FakeModel("gemini-2.0-flash"),
    FakeModel("gemini-2.5-flash"),
    FakeModel("gemini-2.5-pro", output_token_limit=65536),
    FakeModel("gemini-embedding-001", _EMBED, 2048, 1),
    FakeModel("text-embedding-004", _EMBED, 2048, 1),
    FakeModel("veo-2.0-generate-001", ("predictLongRunning",), 480, 8192),
    FakeModel("veo-3.0-generate-001", ("predictLongRunning",), 1024, 8192),
)


@dataclass
class VideoJob:
    name: str
    prompt: str
    samples: int
    polls: int = 0


@dataclass
class GenAIState:
    """Configuration, knobs and records of one fake Gemini API."""

    api_keys: set[str] = field(default_factory=lambda: {DEFAULT_API_KEY})
    models: list[FakeModel] = field(default_factory=lambda: list(DEFAULT_MODELS))
    embedding_dimensions: int = 8  # without outputDimensionality (the real default is 3072)
    video_polls: int = 3  # reads of an operation until it is done
    # knobs
    rate_limit_next: int = 0  # the next N authenticated requests get 429 RESOURCE_EXHAUSTED
    retry_delay: str = "0.05s"
    # records
    violations: list[tuple[str, str]] = field(default_factory=list)  # (path, problem)
    seen_headers: list[dict[str, str]] = field(default_factory=list)
    generate_requests: list[dict[str, Any]] = field(default_factory=list)
    embed_batches: list[list[str]] = field(default_factory=list)  # texts per embedding call
    videos: dict[str, VideoJob] = field(default_factory=dict)

    def model(self, name: str) -> FakeModel | None:
        return next((m for m in self.models if m.name == name), None)


class GoogleError(Exception):
    """An error in Google's envelope: {"error": {"code", "message", "status", "details"}}."""

    def __init__(
        self, code: int, status: str, message: str, details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.body = {"error": {"code": code, "message": message, "status": status}}
        if details:
            self.body["error"]["details"] = details
        self.code = code

    def response(self) -> web.Response:
        return web.json_response(self.body, status=self.code)


# --- checks ----------------------------------------------------------------------------------


def _authenticate(state: GenAIState, request: web.Request) -> None:
    key = request.headers.get("x-goog-api-key") or request.query.get("key")
    if not key:
        raise GoogleError(
            403,
            "PERMISSION_DENIED",
            "Method doesn't allow unregistered callers (callers without established identity)."
            " Please use API Key or other form of API consumer identity to call this API.",
        )
    if key not in state.api_keys:
        raise GoogleError(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
            [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {"service": SERVICE},
                }
            ],
        )


def _throttle(state: GenAIState) -> None:
    if state.rate_limit_next <= 0:
        return
    state.rate_limit_next -= 1
    raise GoogleError(
        429,
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota, please check your plan and billing details. For more "
        "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
        [
            {
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [
                    {
                        "quotaMetric": f"{SERVICE}/generate_content_free_tier_requests",
                        "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                    }
                ],
            },
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": state.retry_delay},
        ],
    )


async def _body(state: GenAIState, request: web.Request, message: str) -> dict[str, Any]:
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError:
        body = None
    problems = (
        check_message(message, body)
        if isinstance(body, dict)
        else ["Invalid JSON payload received. Unexpected token."]
    )
    if problems:
        state.violations.extend((request.path, p) for p in problems)
        raise GoogleError(400, "INVALID_ARGUMENT", "\n".join(problems))
    assert isinstance(body, dict)
    return {_camel(k): v for k, v in body.items()}


def _model(state: GenAIState, name: str, method: str | None = None) -> FakeModel:
    model = state.model(name)
    if model is None:
        raise GoogleError(
            404,
            "NOT_FOUND",
            f"models/{name} is not found for API version v1beta, or is not supported for "
            f"{method or 'get'}. Call ListModels to see the list of available models and their "
            "supported methods.",
        )
    if method is not None and method not in model.methods:
        raise GoogleError(
            400, "INVALID_ARGUMENT", f"models/{name} does not support {method}.", None
        )
    return model


def _texts(content: Any) -> str:
    parts = content.get("parts") if isinstance(content, dict) else None
    return "".join(p.get("text", "") for p in parts or [] if isinstance(p, dict))


def _get(value: dict[str, Any], name: str) -> Any:
    """A field by its camelCase or snake_case name (protobuf JSON takes both)."""
    return value.get(name, value.get(_snake(name)))


# --- handlers --------------------------------------------------------------------------------

Handler = Callable[[web.Request, GenAIState], Awaitable[web.Response]]


async def list_models(request: web.Request, state: GenAIState) -> web.Response:
    raw_size = request.query.get("pageSize", str(DEFAULT_PAGE_SIZE))
    if not raw_size.isdigit():
        raise GoogleError(
            400, "INVALID_ARGUMENT", f"Invalid value at 'page_size' (TYPE_INT32), \"{raw_size}\""
        )
    size = min(int(raw_size) or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    token = request.query.get("pageToken", "")
    start = 0
    if token:
        try:
            start = int(bytes.fromhex(token).decode().removeprefix("offset:"))
        except ValueError:
            raise GoogleError(400, "INVALID_ARGUMENT", "Invalid page token.") from None
    page = state.models[start : start + size]
    body: dict[str, Any] = {"models": [m.as_json() for m in page]}
    if start + size < len(state.models):
        body["nextPageToken"] = f"offset:{start + size}".encode().hex()
    return web.json_response(body)


async def get_model(request: web.Request, state: GenAIState) -> web.Response:
    return web.json_response(_model(state, request.match_info["action"]).as_json())


def _generate(model: FakeModel, body: dict[str, Any]) -> dict[str, Any]:
    contents = body.get("contents") or []
    users = [c for c in contents if isinstance(c, dict) and c.get("role", "user") == "user"]
    prompt = _texts(users[-1]) if users else ""
    system = body.get("systemInstruction")
    prompt_tokens = sum(count_tokens(_texts(c)) for c in contents)
    prompt_tokens += count_tokens(_texts(system)) if system else 0
    usage = {"promptTokenCount": prompt_tokens}
    settings = body.get("safetySettings") or []
    blocking = [
        s
        for s in settings
        if s.get("category") == "HARM_CATEGORY_DANGEROUS_CONTENT"
        and s.get("threshold") not in ("BLOCK_NONE", "OFF")
    ]
    if "forbidden" in prompt and blocking:
        return {
            "promptFeedback": {
                "blockReason": "SAFETY",
                "safetyRatings": [
                    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}
                ],
            },
            "usageMetadata": {**usage, "totalTokenCount": prompt_tokens},
            "modelVersion": model.name,
        }
    config = _get(body, "generationConfig") or {}
    reply = "echo: " + prompt
    finish = "STOP"
    limit = _get(config, "maxOutputTokens")
    if limit is not None and count_tokens(reply) > int(limit):
        reply, finish = reply[: int(limit) * 4], "MAX_TOKENS"
    count = int(_get(config, "candidateCount") or 1)
    reply_tokens = count_tokens(reply)
    return {
        "candidates": [
            {
                "content": {"parts": [{"text": reply}], "role": "model"},
                "finishReason": finish,
                "index": i,
                "safetyRatings": [
                    {"category": c, "probability": "NEGLIGIBLE"} for c in HARM_CATEGORIES[1:5]
                ],
            }
            for i in range(count)
        ],
        "usageMetadata": {
            **usage,
            "candidatesTokenCount": count * reply_tokens,
            "totalTokenCount": prompt_tokens + count * reply_tokens,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}],
        },
        "modelVersion": model.name,
        "responseId": uuid.uuid4().hex[:22],
    }


async def generate_content(request: web.Request, state: GenAIState, name: str) -> web.Response:
    model = _model(state, name, "generateContent")
    body = await _body(state, request, "GenerateContentRequest")
    state.generate_requests.append(body)
    return web.json_response(_generate(model, body))


async def count_tokens_(request: web.Request, state: GenAIState, name: str) -> web.Response:
    _model(state, name, "countTokens")
    body = await _body(state, request, "CountTokensRequest")
    inner = body.get("generateContentRequest")
    contents = body.get("contents")
    if (inner is None) == (contents is None):
        raise GoogleError(
            400,
            "INVALID_ARGUMENT",
            "* CountTokensRequest: exactly one of contents and generate_content_request must "
            "be set",
        )
    if inner is not None:
        contents = inner.get("contents") or []
        system = _get(inner, "systemInstruction")
        contents = [*contents, system] if system else contents
    total = sum(count_tokens(_texts(c)) for c in contents or [])
    return web.json_response(
        {"totalTokens": total, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": total}]}
    )


def _embed_one(state: GenAIState, name: str, item: dict[str, Any], where: str) -> list[float]:
    model = _get(item, "model")
    if model is not None and model != f"models/{name}":
        raise GoogleError(
            400,
            "INVALID_ARGUMENT",
            f"Model mismatch at {where}: the request is for models/{name}, the item for {model}.",
        )
    dims = _get(item, "outputDimensionality") or state.embedding_dimensions
    return fake_embedding(_texts(item.get("content")), int(dims))


async def embed_content(request: web.Request, state: GenAIState, name: str) -> web.Response:
    _model(state, name, "embedContent")
    body = await _body(state, request, "EmbedContentRequest")
    state.embed_batches.append([_texts(body["content"])])
    return web.json_response({"embedding": {"values": _embed_one(state, name, body, "body")}})


async def batch_embed(request: web.Request, state: GenAIState, name: str) -> web.Response:
    _model(state, name, "batchEmbedContents")
    body = await _body(state, request, "BatchEmbedContentsRequest")
    items = body["requests"]
    if len(items) > MAX_BATCH_EMBED:
        raise GoogleError(
            400,
            "INVALID_ARGUMENT",
            f"* BatchEmbedContentsRequest.requests: at most {MAX_BATCH_EMBED} requests can be "
            "in one batch",
        )
    for i, item in enumerate(items):
        if _get(item, "model") is None:
            problem = f"* BatchEmbedContentsRequest.requests[{i}].model: required field is missing"
            state.violations.append((request.path, problem))
            raise GoogleError(400, "INVALID_ARGUMENT", problem)
    vectors = [_embed_one(state, name, item, f"requests[{i}]") for i, item in enumerate(items)]
    state.embed_batches.append([_texts(item["content"]) for item in items])
    return web.json_response({"embeddings": [{"values": v} for v in vectors]})


async def predict_long_running(request: web.Request, state: GenAIState, name: str) -> web.Response:
    _model(state, name, "predictLongRunning")
    body = await _body(state, request, "PredictLongRunningRequest")
    instances = body["instances"]
    if len(instances) != 1 or not instances[0].get("prompt"):
        raise GoogleError(
            400, "INVALID_ARGUMENT", "Exactly one instance with a prompt is supported."
        )
    parameters = body.get("parameters") or {}
    samples = int(_get(parameters, "sampleCount") or 1)
    job = VideoJob(
        f"models/{name}/operations/{uuid.uuid4().hex[:12]}", instances[0]["prompt"], samples
    )
    state.videos[job.name] = job
    return web.json_response({"name": job.name})


def operation_json(job: VideoJob, total: int) -> dict[str, Any]:
    done = job.polls >= total
    operation: dict[str, Any] = {"name": job.name}
    if not done:
        progress = min(99, 100 * job.polls // max(total, 1))
        operation["metadata"] = {
            "@type": f"{TYPE_PREFIX}PredictLongRunningMetadata",
            "progressPercent": progress,
        }
        return operation
    operation["done"] = True
    file_id = job.name.rsplit("/", 1)[1]
    operation["response"] = {
        "@type": f"{TYPE_PREFIX}PredictLongRunningResponse",
        "generateVideoResponse": {
            "generatedSamples": [
                {
                    "video": {
                        "uri": f"https://{SERVICE}/v1beta/files/{file_id}-{i}:download?alt=media"
                    }
                }
                for i in range(job.samples)
            ]
        },
    }
    return operation


async def get_operation(request: web.Request, state: GenAIState) -> web.Response:
    name = f"models/{request.match_info['action']}/operations/{request.match_info['id']}"
    job = state.videos.get(name)
    if job is None:
        raise GoogleError(404, "NOT_FOUND", f"Operation {name} not found.")
    job.polls += 1
    return web.json_response(operation_json(job, state.video_polls))


METHODS = {
    "generateContent": generate_content,
    "countTokens": count_tokens_,
    "embedContent": embed_content,
    "batchEmbedContents": batch_embed,
    "predictLongRunning": predict_long_running,
}


async def model_method(request: web.Request, state: GenAIState) -> web.Response:
    name, _, method = request.match_info["action"].partition(":")
    handler = METHODS.get(method)
    if handler is None:
        raise GoogleError(404, "NOT_FOUND", f"Method not found: {method or 'none'}.")
    return await handler(request, state, name)


async def not_found(request: web.Request, state: GenAIState) -> web.Response:
    raise GoogleError(404, "NOT_FOUND", f"The requested URL {request.path} was not found.")


# --- app -------------------------------------------------------------------------------------


def _endpoint(
    state: GenAIState, handler: Handler, *, authenticated: bool = True
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def wrapped(request: web.Request) -> web.Response:
        state.seen_headers.append({k.lower(): v for k, v in request.headers.items()})
        try:
            if authenticated:
                _authenticate(state, request)
                _throttle(state)
            response = await handler(request, state)
        except GoogleError as error:
            response = error.response()
        response.headers.setdefault("server-timing", "gfet4t7; dur=12")
        response.headers.setdefault("x-content-type-options", "nosniff")
        return response

    return wrapped


def create_genai_app(state: GenAIState) -> web.Application:
    app = web.Application()
    app.router.add_get("/v1beta/models", _endpoint(state, list_models))
    app.router.add_get("/v1beta/models/{action}", _endpoint(state, get_model))
    app.router.add_post("/v1beta/models/{action}", _endpoint(state, model_method))
    app.router.add_get("/v1beta/models/{action}/operations/{id}", _endpoint(state, get_operation))
    app.router.add_route("*", "/{tail:.*}", _endpoint(state, not_found, authenticated=False))
    return app
