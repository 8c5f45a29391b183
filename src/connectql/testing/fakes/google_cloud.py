"""A fake of Google Cloud Translate (v3 and v2), Vision (v1) and Speech-to-Text (v1), with
Google's OAuth2 token endpoint, as one aiohttp app.

    state = GoogleCloudState()
    async with FakeUpstream(create_google_cloud_app(state)) as upstream:
        config = google_cloud_config(upstream.url, api_key=state.api_key)
        key_json = state.service_account_json(f"{upstream.url}/token")  # or a JWT grant
        ...
        assert state.violations == []

Each API is mounted under its own prefix, standing in for its host: `/translate/…`
(translation.googleapis.com), `/vision/…`, `/speech/…`, and `POST /token`
(oauth2.googleapis.com/token).

Every API request is checked against Google's discovery document of its API (`translate.v3`,
`translate.v2`, `vision.v1`, `speech.v1`, as `google-api-python-client` ships them): the path
and method must name a discovery method, query parameters must be declared (with their type
and enum), and the JSON body must fit the method's request schema (no unknown fields, types,
enums, and fields whose description starts with "Required."). A mismatch is recorded in
`state.violations` and answered as Google does, 400 INVALID_ARGUMENT "Invalid JSON payload
received…" (or 404 for an unknown method).

Auth: an API key (`X-Goog-Api-Key` header or `key` query parameter; a wrong one is Google's
400 API_KEY_INVALID) or a bearer token the token endpoint issued (expired or unknown: 401
UNAUTHENTICATED). The token endpoint takes the JWT bearer grant and verifies the assertion's
RS256 signature with the service account's public key, its `iss`, `aud`, `scope`, `iat`/`exp`.

Deterministic behaviour:
- a translation of `text` into `xx` is "[xx] text"; a language is detected as "de" when the
  text has one of ä ö ü ß, "es" with ñ ¿ ¡, else "en";
- an image's labels, text and faces derive from its URI or bytes (see `annotate_image`);
- speech audio `content` is base64 of UTF-8 text, and the transcript is that text; a `uri`
  transcribes as "transcript of <uri>";
- a long-running recognition is done after `state.polls_until_done` reads of its operation.

Not modelled: quotas other than the `rate_limit_next` knob, IAM permissions (only the project
id is checked), real image or audio decoding, audio length limits, glossaries, models,
datasets and the other discovery methods (they are validated, then answered 501).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import orjson
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

DEFAULT_API_KEY = "AIzaSyFakeKey-0123456789abcdefghijklmn"
DEFAULT_PROJECT = "fake-project"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_IMAGES = 16
SPEECH_TYPES = "type.googleapis.com/google.cloud.speech.v1"
APIS = {
    "translate": ("translate.v3", "translate.v2"),
    "vision": ("vision.v1",),
    "speech": ("speech.v1",),
}
HOSTS = {
    "translate": "translation.googleapis.com",
    "vision": "vision.googleapis.com",
    "speech": "speech.googleapis.com",
}


# --- discovery documents ---------------------------------------------------------------------


@cache
def discovery_document(name: str) -> dict[str, Any]:
    """A discovery document google-api-python-client ships (`vision.v1`, …)."""
    try:
        root = resources.files("googleapiclient") / "discovery_cache" / "documents"
    except ModuleNotFoundError:
        raise RuntimeError(
            "the Google Cloud fake validates requests against the discovery documents of "
            "google-api-python-client: pip install google-api-python-client"
        ) from None
    document: dict[str, Any] = orjson.loads((root / f"{name}.json").read_bytes())
    return document


@dataclass(frozen=True)
class DiscoveryMethod:
    id: str
    http_method: str
    pattern: re.Pattern[str]
    parameters: dict[str, Any]
    request: str | None


class DiscoveryValidator:
    """Checks requests against one discovery document: method, path, query and body."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.schemas: dict[str, Any] = document.get("schemas", {})
        self.global_parameters: dict[str, Any] = document.get("parameters", {})
        self.methods: list[DiscoveryMethod] = []
        self._collect(document)

    def _collect(self, node: dict[str, Any]) -> None:
        for method in node.get("methods", {}).values():
            path = self.document.get("servicePath", "") + method.get("flatPath", method["path"])
            regex = ""
            for literal, name in re.findall(r"([^{]*)(?:\{\+?([^}]*)\})?", path):
                regex += re.escape(literal)
                if name:
                    group = re.sub(r"\W", "_", name)
                    regex += f"(?P<{group}>[^/:]+)"
            self.methods.append(
                DiscoveryMethod(
                    method["id"],
                    method["httpMethod"],
                    re.compile(regex + "$"),
                    method.get("parameters", {}),
                    (method.get("request") or {}).get("$ref"),
                )
            )
        for child in node.get("resources", {}).values():
            self._collect(child)

    def match(self, method: str, path: str) -> tuple[DiscoveryMethod | None, bool]:
        """The discovery method for `path` (relative to rootUrl), and whether any method has
        that path at all (so a wrong HTTP method can be told from an unknown path)."""
        found_path = False
        for candidate in self.methods:
            if candidate.pattern.match(path):
                found_path = True
                if candidate.http_method == method:
                    return candidate, True
        return None, found_path

    def check(
        self, method: DiscoveryMethod, query: list[tuple[str, str]], body: bytes
    ) -> list[str]:
        problems: list[str] = []
        seen: dict[str, int] = {}
        for name, value in query:
            seen[name] = seen.get(name, 0) + 1
            spec = method.parameters.get(name) or self.global_parameters.get(name)
            if spec is None or spec.get("location", "query") != "query":
                problems.append(f"{method.id}: unknown query parameter {name!r}")
                continue
            if seen[name] > 1 and not spec.get("repeated"):
                problems.append(f"{method.id}: query parameter {name!r} repeated")
            problems += self._scalar(f"{method.id}: ?{name}", value, spec, from_query=True)
        for name, spec in method.parameters.items():
            if spec.get("location") == "query" and spec.get("required") and name not in seen:
                problems.append(f"{method.id}: required query parameter {name!r} missing")
        if method.request is None:
            if body.strip():
                problems.append(f"{method.id}: takes no body")
            return problems
        try:
            value = orjson.loads(body) if body.strip() else {}
        except orjson.JSONDecodeError:
            return [*problems, f"{method.id}: the body is not JSON"]
        return problems + self.value(
            f"{method.id}: {method.request}", value, {"$ref": method.request}
        )

    def value(self, where: str, value: Any, schema: dict[str, Any]) -> list[str]:
        """Problems of `value` against a discovery schema (its JSON Schema dialect)."""
        if "$ref" in schema:
            schema = self.schemas[schema["$ref"]]
        kind = schema.get("type")
        if kind == "object" or (kind is None and "properties" in schema):
            if not isinstance(value, dict):
                return [f"{where}: expected an object, got {type(value).__name__}"]
            problems: list[str] = []
            properties = schema.get("properties", {})
            extra = schema.get("additionalProperties")
            for key, item in value.items():
                if key in properties:
                    problems += self.value(f"{where}.{key}", item, properties[key])
                elif isinstance(extra, dict):
                    problems += self.value(f"{where}.{key}", item, extra)
                else:
                    problems.append(f"{where}: unknown field {key!r}")
            for key, prop in properties.items():
                if prop.get("description", "").startswith("Required.") and key not in value:
                    problems.append(f"{where}: required field {key!r} missing")
            return problems
        if kind == "array":
            if not isinstance(value, list):
                return [f"{where}: expected an array, got {type(value).__name__}"]
            items = schema.get("items", {})
            return [p for i, v in enumerate(value) for p in self.value(f"{where}[{i}]", v, items)]
        return self._scalar(where, value, schema)

    def _scalar(
        self, where: str, value: Any, schema: dict[str, Any], *, from_query: bool = False
    ) -> list[str]:
        kind, fmt = schema.get("type"), schema.get("format")
        if kind == "any" or kind is None:
            return []
        if from_query:  # query values are text: check that they parse as the type
            ok = {
                "integer": re.fullmatch(r"-?\d+", value) is not None,
                "number": re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", value) is not None,
                "boolean": value in ("true", "false"),
            }.get(kind, True)
        elif kind == "string":
            # 64-bit integers travel as strings, but Google's JSON parser takes numbers too
            int64 = fmt in ("int64", "uint64") and isinstance(value, int)
            ok = isinstance(value, str) or int64
            if ok and fmt == "byte" and isinstance(value, str):
                try:
                    base64.b64decode(value.replace("-", "+").replace("_", "/"), validate=True)
                except ValueError:
                    return [f"{where}: not base64 bytes"]
        elif kind == "integer":
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind == "number":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif kind == "boolean":
            ok = isinstance(value, bool)
        else:
            ok = True
        if not ok:
            return [f"{where}: expected {kind}, got {type(value).__name__}"]
        enum = schema.get("enum")
        if enum and value not in enum:
            return [f"{where}: {value!r} is not one of the enum's values"]
        return []


@cache
def validators(api: str) -> tuple[DiscoveryValidator, ...]:
    return tuple(DiscoveryValidator(discovery_document(name)) for name in APIS[api])


# --- service accounts -------------------------------------------------------------------------


@dataclass
class ServiceAccount:
    email: str
    project_id: str
    key: rsa.RSAPrivateKey
    key_id: str

    @classmethod
    def generate(cls, email: str, project_id: str) -> ServiceAccount:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(email, project_id, key, secrets.token_hex(20))

    def json_key(self, token_uri: str) -> str:
        """The service account's JSON key as the Cloud console downloads it."""
        pem = self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return orjson.dumps(
            {
                "type": "service_account",
                "project_id": self.project_id,
                "private_key_id": self.key_id,
                "private_key": pem,
                "client_email": self.email,
                "client_id": str(int(hashlib.sha256(self.email.encode()).hexdigest()[:15], 16)),
                "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                "token_uri": token_uri,
                "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
                "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
                + self.email.replace("@", "%40"),
                "universe_domain": "googleapis.com",
            }
        ).decode()


# --- state ------------------------------------------------------------------------------------


@dataclass
class FakeOperation:
    name: str
    results: list[dict[str, Any]]
    polls: int = 0
    error: str | None = None
    started: float = field(default_factory=time.time)


@dataclass
class GoogleCloudState:
    """Configuration, knobs and records of one fake Google Cloud."""

    api_key: str = DEFAULT_API_KEY
    project_id: str = DEFAULT_PROJECT
    token_lifetime: int = 3599
    languages: list[tuple[str, str]] = field(
        default_factory=lambda: [
            ("de", "German"),
            ("en", "English"),
            ("es", "Spanish"),
            ("fr", "French"),
            ("ja", "Japanese"),
        ]
    )
    # knobs
    rate_limit_next: int = 0  # the next N authenticated API requests get 429 RESOURCE_EXHAUSTED
    max_page_size: int = 100  # a list page holds at most this many, whatever pageSize says
    polls_until_done: int = 2  # reads of a long-running operation before it is done
    fail_operations: bool = False  # long-running recognitions end with an error
    # records
    violations: list[str] = field(default_factory=list)  # requests that broke the discovery doc
    validated: int = 0  # API requests checked against a discovery document (all of them)
    methods: list[str] = field(default_factory=list)  # the discovery method id of each
    tokens: dict[str, float] = field(default_factory=dict)  # access token → expiry (epoch)
    token_grants: int = 0  # tokens issued
    annotate_batches: list[int] = field(default_factory=list)  # images per images:annotate
    operations: dict[str, FakeOperation] = field(default_factory=dict)
    accounts: dict[str, ServiceAccount] = field(default_factory=dict)  # by client_email

    def service_account(
        self, email: str = "connectql@fake-project.iam.gserviceaccount.com"
    ) -> ServiceAccount:
        if email not in self.accounts:
            self.accounts[email] = ServiceAccount.generate(email, self.project_id)
        return self.accounts[email]

    def service_account_json(self, token_uri: str, email: str | None = None) -> str:
        """A JSON key of a service account this fake knows (created on first use)."""
        account = self.service_account(email) if email else self.service_account()
        return account.json_key(token_uri)


def google_cloud_config(url: str, **config: Any) -> dict[str, Any]:
    """The `google_cloud` connector's config for a fake at `url` (plus `config`)."""
    return {
        "translate_url": f"{url}/translate",
        "vision_url": f"{url}/vision",
        "speech_url": f"{url}/speech",
        "project_id": DEFAULT_PROJECT,
        **config,
    }


# --- errors -----------------------------------------------------------------------------------


class GoogleError(Exception):
    """An error in Google's JSON envelope (google.rpc.Status)."""

    def __init__(
        self, code: int, status: str, message: str, details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.body: dict[str, Any] = {"error": {"code": code, "message": message, "status": status}}
        if details:
            self.body["error"]["details"] = details

    def response(self) -> web.Response:
        return web.json_response(self.body, status=self.code)


def _error_info(reason: str, service: str, **metadata: str) -> dict[str, Any]:
    return {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": {"service": service, **metadata},
    }


def _invalid(message: str) -> GoogleError:
    return GoogleError(400, "INVALID_ARGUMENT", message)


# --- behaviour --------------------------------------------------------------------------------


def detect(text: str) -> str:
    if any(c in text for c in "äöüßÄÖÜ"):
        return "de"
    if any(c in text for c in "ñ¿¡"):
        return "es"
    return "en"


def _seed(image: dict[str, Any]) -> str:
    source = image.get("source") or {}
    return str(source.get("imageUri") or source.get("gcsImageUri") or image.get("content") or "")


LABELS = ("Cat", "Whiskers", "Mammal", "Carnivore", "Dog", "Sky", "Tree", "Water")
LIKELIHOODS = ("VERY_UNLIKELY", "UNLIKELY", "POSSIBLE", "LIKELY", "VERY_LIKELY")


def annotate_image(request: dict[str, Any]) -> dict[str, Any]:
    """One AnnotateImageResponse: what each requested feature finds in the image.

    Labels are LABELS rotated by a hash of the image; text is "TEXT <last path segment>";
    an image whose URI or bytes mention "face" has one face (joy VERY_LIKELY); safe search is
    VERY_UNLIKELY everywhere but `spoof` (UNLIKELY). Content that is not base64 is an error.
    """
    image = request.get("image") or {}
    if "content" in image:
        try:
            base64.b64decode(image["content"], validate=True)
        except ValueError:
            return {"error": {"code": 3, "message": "Bad image data."}}
    seed = _seed(image)
    if not seed:
        return {"error": {"code": 3, "message": "No image present."}}
    digest = hashlib.sha256(seed.encode()).digest()
    response: dict[str, Any] = {}
    for feature in request.get("features") or []:
        kind = feature.get("type")
        limit = int(feature.get("maxResults") or 10)
        if kind == "LABEL_DETECTION":
            start = digest[0] % len(LABELS)
            names = (LABELS[start:] + LABELS[:start])[: min(limit, 4)]
            response["labelAnnotations"] = [
                {
                    "mid": f"/m/0{hashlib.sha256(n.encode()).hexdigest()[:4]}",
                    "description": n,
                    "score": round(0.98 - i * 0.07, 4),
                    "topicality": round(0.98 - i * 0.07, 4),
                }
                for i, n in enumerate(names)
            ]
        elif kind in ("TEXT_DETECTION", "DOCUMENT_TEXT_DETECTION"):
            text = f"TEXT {seed.rstrip('/').rsplit('/', 1)[-1][:24]}"
            response["textAnnotations"] = [{"locale": "en", "description": text}]
            response["fullTextAnnotation"] = {"text": text + "\n", "pages": []}
        elif kind == "FACE_DETECTION":
            if "face" in seed.lower():
                response["faceAnnotations"] = [
                    {
                        "detectionConfidence": 0.93,
                        "joyLikelihood": "VERY_LIKELY",
                        "sorrowLikelihood": "VERY_UNLIKELY",
                        "angerLikelihood": "VERY_UNLIKELY",
                        "surpriseLikelihood": "UNLIKELY",
                        "headwearLikelihood": "VERY_UNLIKELY",
                    }
                ]
        elif kind == "SAFE_SEARCH_DETECTION":
            response["safeSearchAnnotation"] = {
                "adult": "VERY_UNLIKELY",
                "spoof": "UNLIKELY",
                "medical": "VERY_UNLIKELY",
                "violence": "VERY_UNLIKELY",
                "racy": "VERY_UNLIKELY",
            }
    return response


def transcribe(config: dict[str, Any], audio: dict[str, Any]) -> list[dict[str, Any]]:
    if "content" in audio:
        try:
            text = base64.b64decode(audio["content"], validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            raise _invalid("Invalid recognition 'audio': bad encoding.") from None
    elif "uri" in audio:
        text = f"transcript of {audio['uri']}"
    else:
        raise _invalid("RecognitionAudio not set.")
    if not text.strip():
        return []
    return [
        {
            "alternatives": [{"transcript": text, "confidence": 0.92}],
            "resultEndTime": f"{max(1, len(text) // 12)}.500s",
            "languageCode": str(config.get("languageCode", "")).lower(),
        }
    ]


# --- the app ----------------------------------------------------------------------------------

Route = Callable[[web.Request, dict[str, Any], Any], Awaitable[Any]]


def create_google_cloud_app(state: GoogleCloudState) -> web.Application:
    app = web.Application()

    def project(params: dict[str, Any]) -> None:
        if params.get("projectsId") != state.project_id:
            raise GoogleError(
                403,
                "PERMISSION_DENIED",
                f"Permission denied on resource project {params.get('projectsId')}.",
                [_error_info("CONSUMER_INVALID", HOSTS["translate"])],
            )

    async def translate_text(request: web.Request, params: dict[str, Any], body: Any) -> Any:
        project(params)
        target = body["targetLanguageCode"]
        if target not in {code for code, _ in state.languages}:
            raise _invalid("Target language is invalid.")
        translations = []
        for text in body["contents"]:
            item: dict[str, Any] = {"translatedText": f"[{target}] {text}"}
            if not body.get("sourceLanguageCode"):
                item["detectedLanguageCode"] = detect(text)
            if body.get("model"):
                item["model"] = body["model"]
            translations.append(item)
        return {"translations": translations}

    async def detect_language(request: web.Request, params: dict[str, Any], body: Any) -> Any:
        project(params)
        if not body.get("content"):
            raise _invalid("Empty content.")
        return {"languages": [{"languageCode": detect(body["content"]), "confidence": 0.98}]}

    async def supported_languages(request: web.Request, params: dict[str, Any], _: Any) -> Any:
        project(params)
        display = request.query.get("displayLanguageCode")
        languages = []
        for code, name in state.languages:
            item: dict[str, Any] = {
                "languageCode": code,
                "supportSource": True,
                "supportTarget": True,
            }
            if display:
                item["displayName"] = name if display == "en" else f"{name} ({display})"
            languages.append(item)
        return {"languages": languages}

    async def translate_v2(request: web.Request, params: dict[str, Any], body: Any) -> Any:
        target = body.get("target")
        if not target or not body.get("q"):
            raise _invalid("Required Text" if not body.get("q") else "Invalid Value")
        return {
            "data": {
                "translations": [
                    {"translatedText": f"[{target}] {q}"}
                    | ({} if body.get("source") else {"detectedSourceLanguage": detect(q)})
                    for q in body["q"]
                ]
            }
        }

    async def images_annotate(request: web.Request, params: dict[str, Any], body: Any) -> Any:
        requests = body["requests"]
        if len(requests) > MAX_IMAGES:
            raise _invalid(f"At most {MAX_IMAGES} images allowed per request.")
        state.annotate_batches.append(len(requests))
        return {"responses": [annotate_image(r) for r in requests]}

    async def recognize(request: web.Request, params: dict[str, Any], body: Any) -> Any:
        results = transcribe(body["config"], body["audio"])
        return {"results": results, "totalBilledTime": "15s", "requestId": "0"} if results else {}

    async def long_running(request: web.Request, params: dict[str, Any], body: Any) -> Any:
        results = transcribe(body["config"], body["audio"])
        name = str(7_000_000_000_000_000_000 + len(state.operations))
        operation = FakeOperation(
            name,
            results,
            error="Audio data could not be decoded." if state.fail_operations else None,
        )
        state.operations[name] = operation
        return _operation_json(operation)

    def _operation_json(operation: FakeOperation) -> dict[str, Any]:
        done = operation.polls >= state.polls_until_done
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(operation.started))
        value: dict[str, Any] = {
            "name": operation.name,
            "metadata": {
                "@type": f"{SPEECH_TYPES}.LongRunningRecognizeMetadata",
                "progressPercent": 100
                if done
                else operation.polls * 100 // max(1, state.polls_until_done),
                "startTime": stamp,
                "lastUpdateTime": stamp,
            },
        }
        if done:
            value["done"] = True
            if operation.error:
                value["error"] = {"code": 3, "message": operation.error}
            else:
                value["response"] = {
                    "@type": f"{SPEECH_TYPES}.LongRunningRecognizeResponse",
                    "results": operation.results,
                    "totalBilledTime": "15s",
                }
        return value

    async def get_operation(request: web.Request, params: dict[str, Any], _: Any) -> Any:
        operation = state.operations.get(params["operationsId"])
        if operation is None:
            raise GoogleError(404, "NOT_FOUND", f"Operation {params['operationsId']} not found.")
        operation.polls += 1
        return _operation_json(operation)

    async def list_operations(request: web.Request, params: dict[str, Any], _: Any) -> Any:
        names = sorted(state.operations, reverse=True)
        size = min(int(request.query.get("pageSize") or 50), state.max_page_size)
        token = request.query.get("pageToken")
        start = 0
        if token:
            try:
                start = int(base64.urlsafe_b64decode(token.encode()).decode())
            except (ValueError, UnicodeDecodeError):
                raise _invalid("Invalid page token.") from None
        chunk = names[start : start + size]
        answer: dict[str, Any] = {
            "operations": [dict(_operation_json(state.operations[n]).items()) for n in chunk]
        }
        if start + size < len(names):
            answer["nextPageToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
        return answer

    routes: dict[str, Route] = {
        "translate.projects.translateText": translate_text,
        "translate.projects.locations.translateText": translate_text,
        "translate.projects.detectLanguage": detect_language,
        "translate.projects.locations.detectLanguage": detect_language,
        "translate.projects.getSupportedLanguages": supported_languages,
        "translate.projects.locations.getSupportedLanguages": supported_languages,
        "language.translations.translate": translate_v2,
        "vision.images.annotate": images_annotate,
        "vision.projects.images.annotate": images_annotate,
        "speech.speech.recognize": recognize,
        "speech.speech.longrunningrecognize": long_running,
        "speech.operations.get": get_operation,
        "speech.operations.list": list_operations,
    }

    def authenticate(request: web.Request, api: str) -> None:
        key = request.headers.get("X-Goog-Api-Key") or request.query.get("key")
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if key is not None:
            if key != state.api_key:
                raise GoogleError(
                    400,
                    "INVALID_ARGUMENT",
                    "API key not valid. Please pass a valid API key.",
                    [_error_info("API_KEY_INVALID", HOSTS[api])],
                )
            return
        if scheme.lower() == "bearer" and token:
            expires = state.tokens.get(token)
            if expires is not None and expires > time.time():
                return
            raise GoogleError(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access "
                "token, login cookie or other valid authentication credential. See "
                "https://developers.google.com/identity/sign-in/web/devconsole-project.",
                [
                    _error_info(
                        "ACCESS_TOKEN_EXPIRED" if expires else "ACCESS_TOKEN_TYPE_UNSUPPORTED",
                        HOSTS[api],
                    )
                ],
            )
        raise GoogleError(
            401,
            "UNAUTHENTICATED",
            "Request is missing required authentication credential. Expected OAuth 2 access "
            "token, login cookie or other valid authentication credential.",
            [_error_info("CREDENTIALS_MISSING", HOSTS[api])],
        )

    def route(
        name: str, request: web.Request, tail: str
    ) -> tuple[DiscoveryValidator, DiscoveryMethod, dict[str, str]]:
        path_known = False
        for validator in validators(name):
            found, known = validator.match(request.method, tail)
            path_known = path_known or known
            matched = found.pattern.match(tail) if found is not None else None
            if found is not None and matched is not None:
                return validator, found, matched.groupdict()
        state.violations.append(f"{request.method} {request.path}: no such discovery method")
        if path_known:
            raise GoogleError(405, "INVALID_ARGUMENT", "Method not allowed.")
        raise GoogleError(404, "NOT_FOUND", f"The requested URL {request.path} was not found.")

    async def api(request: web.Request) -> web.StreamResponse:
        name = request.match_info["api"]
        tail = request.match_info["tail"]
        try:
            validator, method, params = route(name, request, tail)
            # every request is checked, even one its credential then fails
            problems = validator.check(method, list(request.query.items()), await request.read())
            state.validated += 1
            state.methods.append(method.id)
            state.violations.extend(problems)
            authenticate(request, name)
            if problems:
                raise _invalid(f"Invalid JSON payload received. {problems[0]}")
            if state.rate_limit_next > 0:
                state.rate_limit_next -= 1
                raise GoogleError(
                    429,
                    "RESOURCE_EXHAUSTED",
                    f"Quota exceeded for quota metric 'Requests' and limit 'Requests per "
                    f"minute' of service '{HOSTS[name]}' for consumer "
                    "'project_number:123456789012'.",
                    [
                        _error_info(
                            "RATE_LIMIT_EXCEEDED", HOSTS[name], quota_limit="RequestsPerMinute"
                        )
                    ],
                )
            handler = routes.get(method.id)
            if handler is None:
                raise GoogleError(501, "UNIMPLEMENTED", f"{method.id} is not in this fake.")
            body = orjson.loads(await request.read()) if method.request else None
            return web.json_response(await handler(request, params, body))
        except GoogleError as exc:
            return exc.response()

    async def token(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        if form.get("grant_type") != JWT_BEARER:
            return _token_error(
                "unsupported_grant_type", f"Invalid grant_type: {form.get('grant_type')!s}"
            )
        assertion = str(form.get("assertion") or "")
        try:
            header_b64, claims_b64, signature_b64 = assertion.split(".")
            header = orjson.loads(_unb64(header_b64))
            claims = orjson.loads(_unb64(claims_b64))
            signature = _unb64(signature_b64)
        except ValueError:
            return _token_error("invalid_grant", "Invalid JWT: not a compact JWS.")
        if header.get("alg") != "RS256":
            return _token_error("invalid_grant", "Invalid JWT: unsupported alg.")
        account = state.accounts.get(str(claims.get("iss")))
        if account is None:
            return _token_error("invalid_grant", "Invalid grant: account not found")
        try:
            account.key.public_key().verify(
                signature,
                f"{header_b64}.{claims_b64}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            return _token_error("invalid_grant", "Invalid JWT Signature.")
        if claims.get("aud") != str(request.url.with_query(None)):
            return _token_error("invalid_grant", "Invalid JWT audience.")
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        if (
            not isinstance(iat, int)
            or not isinstance(exp, int)
            or iat > now + 300
            or exp < now
            or exp - iat > 3600
        ):
            return _token_error(
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                "reasonable timeframe. Check your iat and exp values in the JWT claim.",
            )
        if not str(claims.get("scope") or "").strip():
            return _token_error(
                "invalid_scope", "Invalid OAuth scope or ID token audience provided."
            )
        access = "ya29.fake-" + secrets.token_urlsafe(24)
        state.tokens[access] = now + state.token_lifetime
        state.token_grants += 1
        return web.json_response(
            {"access_token": access, "expires_in": state.token_lifetime, "token_type": "Bearer"}
        )

    app.router.add_post("/token", token)
    app.router.add_route("*", r"/{api:translate|vision|speech}/{tail:.*}", api)
    return app


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _token_error(error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=400)
