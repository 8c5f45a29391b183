"""A fake of the OpenRouter API as an aiohttp app; its base URL plays `https://openrouter.ai`.

    state = OpenRouterState()
    async with FakeUpstream(create_openrouter_app(state)) as fake:
        ...  # connector base_url = f"{fake.url}/api/v1", api_key = DEFAULT_API_KEY
        assert state.violations == []

Routes: `GET /api/v1/models` (public; `offset`/`limit` pages with an absolute `links.next`),
`GET /api/v1/model/{author}/{slug}`, `POST /api/v1/chat/completions`,
`POST /api/v1/embeddings`; anything else is a 404 in the envelope. Every error is
`{"error": {"code": <the HTTP status>, "message", "metadata"?}}`.

The POST routes check, in order: the bearer key (401), credits (402), the rate limit (429
with `X-RateLimit-Limit/Remaining/Reset`, reset in Unix milliseconds, no Retry-After), the
JSON body against the request models of OpenRouter's official Python SDK (`openrouter`,
generated from its OpenAPI description; 400, and each problem appended to
`state.violations`), the model ids (400), moderation (403 with `metadata.reasons`), then
routing: the candidates are `model` then the `models` fallbacks; each candidate's providers
are filtered by `provider.only` / `ignore` / `data_collection`, ordered by `provider.order`
(then `sort`, then the model's own order; `allow_fallbacks: false` keeps the ordered ones
only); down models and providers (`state.down_models`, `state.down_providers`) are passed
over. No provider allowed at all is a 503; every allowed one down is a 502. The answer
names the `provider` and the `model` that served it.

Deterministic, so tests can compare: the reply is "echo: " + the last user message; an
embedding is `fake_embedding(text)` of the OpenAI fake; tokens are counted as there.
`HTTP-Referer` and `X-Title` (or the newer `X-OpenRouter-Title`) are recorded in
`state.attributions`. A 429 that arrives before the announced reset counts in
`state.early_requests`, so a test can tell a client that waited from one that hammered.

Not faithful: streaming (400), tools and other chat parameters (validated, then ignored),
prices (nothing is charged but `credits <= 0` refuses), `:free`/`:nitro` variants.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from connectql.testing.fakes.openai import count_tokens, fake_embedding

DEFAULT_API_KEY = "sk-or-v1-f4ke0000000000000000000000000000000000000000000000000000c0ffee"
RATE_LIMIT = 20  # requests per window, as on free models
EARLY_GRACE_MS = 50  # clocks differ: a request this close to the reset is not early
ROLES = ("system", "developer", "user", "assistant", "tool")


@dataclass(frozen=True)
class FakeProvider:
    name: str
    price: float  # USD per token, prompt and completion alike
    throughput: float  # tokens per second
    latency: float  # seconds to the first token
    collects_data: bool = False  # may train on prompts: refused by data_collection "deny"
    moderated: bool = False  # checks inputs against `state.flagged_terms`


@dataclass(frozen=True)
class FakeModel:
    id: str
    name: str
    created: int
    context_length: int
    providers: tuple[FakeProvider, ...]
    embedding: bool = False

    def as_json(self) -> dict[str, Any]:
        top = self.providers[0]
        output = "embeddings" if self.embedding else "text"
        return {
            "id": self.id,
            "canonical_slug": self.id,
            "name": self.name,
            "created": self.created,
            "description": f"{self.name}, served by {len(self.providers)} provider(s).",
            "context_length": self.context_length,
            "architecture": {
                "modality": f"text->{output}",
                "input_modalities": ["text"],
                "output_modalities": [output],
                "tokenizer": "Other",
                "instruct_type": None,
            },
            "pricing": {"prompt": f"{top.price:.10f}", "completion": f"{top.price:.10f}"},
            "top_provider": {
                "context_length": self.context_length,
                "max_completion_tokens": None,
                "is_moderated": top.moderated,
            },
            "per_request_limits": None,
            "supported_parameters": [] if self.embedding else ["max_tokens", "temperature"],
            "default_parameters": None,
            "supported_voices": None,
            "links": {"details": f"/api/v1/models/{self.id}/endpoints"},
        }


OPENAI = FakeProvider("OpenAI", 0.00000015, 80, 0.5, moderated=True)
AZURE = FakeProvider("Azure", 0.00000015, 60, 0.7)
DEEPINFRA = FakeProvider("DeepInfra", 0.00000002, 90, 0.4, collects_data=True)
TOGETHER = FakeProvider("Together", 0.00000018, 200, 0.2)
FIREWORKS = FakeProvider("Fireworks", 0.0000001, 150, 0.3)
DEFAULT_MODELS = (
    FakeModel("openai/gpt-4o-mini", "OpenAI: GPT-4o-mini", 1721260800, 128000, (OPENAI, AZURE)),
    FakeModel(
        "meta-llama/llama-3.1-8b-instruct",
        "Meta: Llama 3.1 8B Instruct",
        1721692800,
        131072,
        (DEEPINFRA, TOGETHER, FIREWORKS),
    ),
    FakeModel(
        "mistralai/mistral-small",
        "Mistral Small",
        1706140800,
        32000,
        (FakeProvider("Mistral", 0.0000002, 100, 0.3),),
    ),
    FakeModel(
        "openai/text-embedding-3-small",
        "OpenAI: Text Embedding 3 Small",
        1705948997,
        8192,
        (OPENAI,),
        embedding=True,
    ),
)


@dataclass
class OpenRouterState:
    """Configuration, knobs and records of one fake OpenRouter."""

    api_keys: set[str] = field(default_factory=lambda: {DEFAULT_API_KEY})
    models: list[FakeModel] = field(default_factory=lambda: list(DEFAULT_MODELS))
    # knobs
    credits: float = 10.0  # <= 0: every POST is 402
    rate_limit_next: int = 0  # the next N authenticated POSTs are 429
    rate_limit_reset_ms: int = 300  # how long after a 429 the window resets
    down_models: set[str] = field(default_factory=set)
    down_providers: set[str] = field(default_factory=set)
    flagged_terms: dict[str, str] = field(default_factory=lambda: {"forbidden-word": "violence"})
    page_cap: int | None = None  # largest `limit` honoured on /models (None: as asked)
    # records
    violations: list[str] = field(default_factory=list)  # requests the SDK's models refuse
    attributions: list[tuple[str | None, str | None]] = field(default_factory=list)
    chat_requests: list[dict[str, Any]] = field(default_factory=list)
    routes: list[tuple[str, str]] = field(default_factory=list)  # (model, provider) served
    embedding_batches: list[list[str]] = field(default_factory=list)
    early_requests: int = 0  # requests that came while a 429's reset was still ahead
    _limited_until_ms: int = 0

    def model(self, model_id: str) -> FakeModel | None:
        return next((m for m in self.models if m.id == model_id), None)


class OpenRouterError(Exception):
    """An error answered in OpenRouter's envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        metadata: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        error: dict[str, Any] = {"code": status, "message": message}
        if metadata is not None:
            error["metadata"] = metadata
        self.body = {"error": error}
        self.headers = headers or {}

    def response(self) -> web.Response:
        return web.json_response(self.body, status=self.status, headers=self.headers)


# --- the SDK's request models: the machine-readable description ---------------------------


def request_problems(kind: str, body: Any) -> list[str]:
    """What OpenRouter's published request schema (as its official SDK's pydantic models)
    says is wrong with `body`: type errors, and keys it does not know at the top level and
    in `provider`. Needs the `openrouter` package."""
    from openrouter import components, operations

    model: type[BaseModel] = (
        components.ChatRequest if kind == "chat" else operations.CreateEmbeddingsRequestBody
    )
    problems: list[str] = []
    try:
        model.model_validate(body)
    except ValidationError as exc:
        problems += [
            f"{kind}: {'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        ]
    if isinstance(body, dict):
        problems += _unknown_keys(kind, body, model)
        provider = body.get("provider")
        if isinstance(provider, dict):
            problems += _unknown_keys(f"{kind}.provider", provider, components.ProviderPreferences)
    return problems


def _unknown_keys(where: str, body: dict[str, Any], model: type[BaseModel]) -> list[str]:
    known = {f.alias or name for name, f in model.model_fields.items()}
    return [f"{where}: unknown key {key!r}" for key in body if key not in known]


# --- request checks ---------------------------------------------------------------------------


def _authenticate(state: OpenRouterState, request: web.Request) -> None:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise OpenRouterError(401, "No auth credentials found")
    if key.strip() not in state.api_keys:
        raise OpenRouterError(401, "User not found.")


def _throttle(state: OpenRouterState) -> None:
    if state.credits <= 0:
        raise OpenRouterError(
            402,
            "Insufficient credits. This account never purchased credits. Make sure your key "
            "is on the correct account or org, and if so, purchase more at "
            "https://openrouter.ai/settings/credits",
        )
    now_ms = int(time.time() * 1000)
    if now_ms < state._limited_until_ms - EARLY_GRACE_MS:
        state.early_requests += 1
    elif state.rate_limit_next > 0:
        state.rate_limit_next -= 1
        state._limited_until_ms = now_ms + state.rate_limit_reset_ms
    else:
        return
    headers = {
        "X-RateLimit-Limit": str(RATE_LIMIT),
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(state._limited_until_ms),
    }
    raise OpenRouterError(
        429, "Rate limit exceeded: free-models-per-min. ", {"headers": headers}, headers
    )


async def _json_body(state: OpenRouterState, request: web.Request, kind: str) -> dict[str, Any]:
    try:
        body = json.loads(await request.read())
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise OpenRouterError(400, "Invalid JSON body")
    problems = request_problems(kind, body)
    if problems:
        state.violations += problems
        raise OpenRouterError(400, "Invalid request: " + "; ".join(problems))
    if body.get("stream"):
        raise OpenRouterError(400, "streaming is not supported by this fake")
    return body


def _known_model(state: OpenRouterState, model_id: Any) -> FakeModel:
    model = state.model(model_id) if isinstance(model_id, str) else None
    if model is None:
        raise OpenRouterError(400, f"{model_id} is not a valid model ID")
    return model


def _providers(model: FakeModel, preferences: dict[str, Any]) -> list[FakeProvider]:
    """`model`'s providers that `preferences` allow, best first."""
    only, ignore = preferences.get("only"), preferences.get("ignore") or []
    allowed = [
        p
        for p in model.providers
        if (only is None or p.name in only)
        and p.name not in ignore
        and not (preferences.get("data_collection") == "deny" and p.collects_data)
    ]
    sort = preferences.get("sort")
    if sort == "price":
        allowed.sort(key=lambda p: p.price)
    elif sort == "throughput":
        allowed.sort(key=lambda p: -p.throughput)
    elif sort == "latency":
        allowed.sort(key=lambda p: p.latency)
    order = preferences.get("order") or []
    ordered = [p for name in order for p in allowed if p.name == name]
    if order and preferences.get("allow_fallbacks") is False:
        return ordered
    return ordered + [p for p in allowed if p not in ordered]


def _route(state: OpenRouterState, body: dict[str, Any]) -> tuple[FakeModel, FakeProvider]:
    ids = [body["model"]] if body.get("model") else []
    ids += [m for m in body.get("models") or [] if m not in ids]
    if not ids:
        raise OpenRouterError(400, "No models provided")
    candidates = [_known_model(state, model_id) for model_id in ids]
    preferences = body.get("provider") or {}
    tried: list[FakeProvider] = []
    for model in candidates:
        for provider in _providers(model, preferences):
            tried.append(provider)
            if model.id not in state.down_models and provider.name not in state.down_providers:
                return model, provider
    if not tried:
        raise OpenRouterError(
            503,
            "No allowed providers are available for the selected model.",
            {"requested_providers": preferences.get("only") or preferences.get("order")},
        )
    raise OpenRouterError(
        502,
        "Provider returned error",
        {"provider_name": tried[-1].name, "raw": "upstream connect error or disconnect"},
    )


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def _moderate(
    state: OpenRouterState, model: FakeModel, provider: FakeProvider, texts: list[str]
) -> None:
    if not provider.moderated:
        return
    for text in texts:
        for term, reason in state.flagged_terms.items():
            if term in text:
                raise OpenRouterError(
                    403,
                    f"{model.id} requires moderation on {provider.name}. Your input was flagged "
                    f'for "{reason}". No credits were charged.',
                    {
                        "reasons": [reason],
                        "flagged_input": text[:100],
                        "provider_name": provider.name,
                        "model_slug": model.id,
                    },
                )


# --- handlers ---------------------------------------------------------------------------------

Handler = Callable[[web.Request, OpenRouterState], Awaitable[web.Response]]


def _int_query(request: web.Request, name: str, default: int, low: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if value < low:
        raise OpenRouterError(400, f"Invalid query parameter {name}: expected an integer >= {low}")
    return value


async def list_models(request: web.Request, state: OpenRouterState) -> web.Response:
    offset = _int_query(request, "offset", 0, 0)
    limit = _int_query(request, "limit", 500, 1)
    if state.page_cap is not None:
        limit = min(limit, state.page_cap)
    page = state.models[offset : offset + limit]
    more = offset + limit < len(state.models)
    origin = f"{request.scheme}://{request.host}"
    following = f"{origin}/api/v1/models?offset={offset + limit}&limit={limit}" if more else None
    return web.json_response(
        {
            "data": [m.as_json() for m in page],
            "links": {"next": following},
            "total_count": len(state.models),
        }
    )


async def get_model(request: web.Request, state: OpenRouterState) -> web.Response:
    model_id = f"{request.match_info['author']}/{request.match_info['slug']}"
    model = state.model(model_id)
    if model is None:
        raise OpenRouterError(404, f"Model {model_id} not found")
    return web.json_response({"data": model.as_json()})


async def chat_completions(request: web.Request, state: OpenRouterState) -> web.Response:
    body = await _json_body(state, request, "chat")
    messages = body["messages"]
    if not messages:
        raise OpenRouterError(400, "messages must not be empty")
    for ref in [body.get("model"), *(body.get("models") or [])]:
        if ref is not None and _known_model(state, ref).embedding:
            raise OpenRouterError(400, f"{ref} is not a chat model")
    model, provider = _route(state, body)
    _moderate(state, model, provider, [_text(m) for m in messages])
    user_texts = [_text(m) for m in messages if m.get("role") == "user"]
    reply = "echo: " + (user_texts[-1] if user_texts else "")
    finish = "stop"
    max_tokens = body.get("max_tokens") or 0
    if max_tokens and count_tokens(reply) > max_tokens:
        reply, finish = reply[: max_tokens * 4], "length"
    prompt_tokens = 3 + sum(3 + count_tokens(_text(m)) for m in messages)
    completion_tokens = count_tokens(reply)
    state.chat_requests.append(body)
    state.routes.append((model.id, provider.name))
    return web.json_response(
        {
            "id": f"gen-{int(time.time())}-{uuid.uuid4().hex[:20]}",
            "provider": provider.name,
            "model": model.id,
            "object": "chat.completion",
            "created": int(time.time()),
            "choices": [
                {
                    "logprobs": None,
                    "finish_reason": finish,
                    "native_finish_reason": finish,
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": reply,
                        "refusal": None,
                        "reasoning": None,
                    },
                }
            ],
            "system_fingerprint": None,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
    )


async def embeddings(request: web.Request, state: OpenRouterState) -> web.Response:
    body = await _json_body(state, request, "embeddings")
    model = _known_model(state, body.get("model"))
    if not model.embedding:
        raise OpenRouterError(400, f"{model.id} is not an embedding model")
    raw = body["input"]
    inputs = [raw] if isinstance(raw, str) else raw
    if not inputs or not all(isinstance(text, str) and text for text in inputs):
        raise OpenRouterError(400, "input must be a non-empty string or array of strings")
    _, provider = _route(state, {"model": model.id, "provider": body.get("provider")})
    state.embedding_batches.append(list(inputs))
    tokens = sum(count_tokens(text) for text in inputs)
    return web.json_response(
        {
            "id": f"gen-emb-{uuid.uuid4().hex[:20]}",
            "object": "list",
            "model": model.id,
            "provider": provider.name,
            "data": [
                {"object": "embedding", "index": i, "embedding": fake_embedding(text)}
                for i, text in enumerate(inputs)
            ],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


async def not_found(request: web.Request, state: OpenRouterState) -> web.Response:
    raise OpenRouterError(404, "Not Found")


# --- app --------------------------------------------------------------------------------------


def _endpoint(
    state: OpenRouterState, handler: Handler, *, paid: bool = False
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def wrapped(request: web.Request) -> web.Response:
        try:
            if paid:
                _authenticate(state, request)
                title = request.headers.get("X-Title") or request.headers.get("X-OpenRouter-Title")
                state.attributions.append((request.headers.get("HTTP-Referer"), title))
                _throttle(state)
            return await handler(request, state)
        except OpenRouterError as error:
            return error.response()

    return wrapped


def create_openrouter_app(state: OpenRouterState) -> web.Application:
    app = web.Application()
    app.router.add_get("/api/v1/models", _endpoint(state, list_models))
    app.router.add_get("/api/v1/model/{author}/{slug}", _endpoint(state, get_model))
    app.router.add_post("/api/v1/chat/completions", _endpoint(state, chat_completions, paid=True))
    app.router.add_post("/api/v1/embeddings", _endpoint(state, embeddings, paid=True))
    app.router.add_route("*", "/{tail:.*}", _endpoint(state, not_found))
    return app
