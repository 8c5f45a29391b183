"""The prebuilt Google Cloud connector (Translate, Vision, Speech) against its fake, which
checks every request against Google's discovery documents."""

from __future__ import annotations

import base64
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from connectql.connectors.builtin import builtin_spec
from connectql.errors import ConfigError
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec
from connectql.testing import FakeUpstream
from connectql.testing.fakes.google_cloud import (
    DEFAULT_API_KEY,
    GoogleCloudState,
    create_google_cloud_app,
    google_cloud_config,
)
from tests.connectors.builtin.contract import ConnectorContract
from tests.support import execute, serving

WRONG_KEY = "AIzaSyWrongKey-zyxwvutsrqponmlkjihgfedcba"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def image(uri: str, *features: str) -> str:
    wanted = ", ".join(f"{{type: {f}}}" for f in features or ("LABEL_DETECTION",))
    return f'{{image: {{source: {{imageUri: "{uri}"}}}}, features: [{wanted}]}}'


FEATURES = ("LABEL_DETECTION", "TEXT_DETECTION", "FACE_DETECTION", "SAFE_SEARCH_DETECTION")


def gc(selection: str) -> str:
    """A document selecting `selection` under the connector's namespace field."""
    return "{ google_cloud { " + selection + " } }"


RECOGNIZE = """
{ google_cloud { %s(
    config: {languageCode: "en-US", encoding: LINEAR16, sampleRateHertz: 16000}
    audio: {content: "%s"}
  ) { transcript confidence languageCode } } }
"""

QUERIES = {
    "translate": '{ google_cloud { translate(text: "Hello world", targetLanguage: "de") '
    "{ translatedText detectedLanguageCode } } }",
    "detectLanguage": '{ google_cloud { detectLanguage(text: "Grüße aus Köln") '
    "{ languageCode confidence } } }",
    "supportedLanguages": '{ google_cloud { supportedLanguages(displayLanguage: "en") '
    "{ languageCode displayName supportTarget } } }",
    "translateBasic": '{ google_cloud { translateBasic(text: "Good morning", targetLanguage: "fr")'
    " { translatedText detectedSourceLanguage } } }",
    "annotateImage": gc(
        "annotateImage(request: "
        + image("gs://bucket/face-1.jpg", *FEATURES)
        + ") { labels { description score } texts { description } fullText faces { joy } "
        "safeSearch { adult spoof } errorMessage }"
    ),
    "recognize": RECOGNIZE % ("recognize", b64("how old is the Brooklyn Bridge")),
    "longRunningRecognize": RECOGNIZE % ("longRunningRecognize", b64("a much longer recording")),
    "speechOperation": '{ google_cloud { speechOperation(name: "nope") { name done } } }',
    "speechOperations": "{ google_cloud { speechOperations(first: 5) { nodes { name done } } } }",
}


def api_calls(fake: FakeUpstream) -> int:
    return sum(1 for r in fake.requests if r.path != "/token")


class TestGoogleCloudContract(ConnectorContract):
    name = "google_cloud"
    operations = tuple(QUERIES)
    auth_query = QUERIES["annotateImage"]

    @contextlib.asynccontextmanager
    async def fake(self) -> AsyncIterator[FakeUpstream]:
        state = self.state = GoogleCloudState()
        self.states = [*getattr(self, "states", []), state]
        async with FakeUpstream(create_google_cloud_app(state)) as upstream:
            yield upstream
        assert state.validated == api_calls(upstream)  # every request was checked …
        assert state.violations == []  # … and fit the discovery documents

    def operation_queries(self) -> dict[str, str]:
        return QUERIES

    def config(self, fake: FakeUpstream) -> dict[str, Any]:
        return google_cloud_config(fake.url, api_key=DEFAULT_API_KEY, poll_interval=0.01)

    def wrong_config(self, fake: FakeUpstream) -> dict[str, Any]:
        return google_cloud_config(fake.url, api_key=WRONG_KEY)

    def secrets(self) -> list[str]:
        return [DEFAULT_API_KEY, WRONG_KEY]

    async def check_pagination(self, url: str, fake: FakeUpstream) -> None:
        for i in range(7):
            result = await execute(url, RECOGNIZE % ("longRunningRecognize", b64(f"take {i}")))
            assert result.errors is None, result.errors
        start = len(fake.requests)
        self.state.max_page_size = 3  # Google may answer fewer than pageSize, with a token
        whole = await execute(
            url, "{ google_cloud { speechOperations(first: 20) { nodes { name } } } }"
        )
        assert whole.errors is None, whole.errors
        everything = [n["name"] for n in whole.data["google_cloud"]["speechOperations"]["nodes"]]
        assert everything == sorted(self.state.operations, reverse=True)
        pages = [r for r in fake.requests[start:] if r.path == "/speech/v1/operations"]
        assert len(pages) == 3  # 3 + 3 + 1, following nextPageToken to the last page
        assert "pageToken" not in pages[0].query
        assert all(r.query.get("pageToken") for r in pages[1:])

        names: list[str] = []
        after = ""
        while True:  # and page by page as a Relay connection
            page = await execute(
                url,
                gc(
                    f"speechOperations(first: 3{after}) "
                    "{ nodes { name done results { transcript } } "
                    "pageInfo { hasNextPage endCursor } }"
                ),
            )
            assert page.errors is None, page.errors
            connection = page.data["google_cloud"]["speechOperations"]
            names += [n["name"] for n in connection["nodes"]]
            assert all(n["done"] for n in connection["nodes"])
            if not connection["pageInfo"]["hasNextPage"]:
                break
            cursor = connection["pageInfo"]["endCursor"]
            after = f', after: "{cursor}"'
        assert names == everything

    async def check_rate_limit(self, url: str, fake: FakeUpstream) -> None:
        self.state.rate_limit_next = 2  # 429 RESOURCE_EXHAUSTED twice, then the answer
        result = await execute(url, QUERIES["translate"])
        assert result.errors is None, result.errors
        assert api_calls(fake) == 3

        self.state.rate_limit_next = 10  # more than the connector retries
        refused = await execute(url, QUERIES["detectLanguage"])
        error = refused.errors[0]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert error["extensions"]["upstreamCode"] == "RESOURCE_EXHAUSTED"
        assert api_calls(fake) == 3 + 4  # max_attempts: 4
        self.state.rate_limit_next = 0

    async def check_batching(self, url: str, fake: FakeUpstream) -> None:
        uris = [f"gs://photos/img-{i}.jpg" for i in range(10)]
        fields = " ".join(
            f"i{i}: annotateImage(request: {image(u)}) {{ labels {{ description }} }}"
            for i, u in enumerate(uris)
        )
        result = await execute(url, gc(fields))
        assert result.errors is None, result.errors
        assert fake.count("POST", "/vision/v1/images:annotate") == 1  # ten fields, one call
        assert self.state.annotate_batches == [10]
        sent = fake.requests[-1].json()["requests"]
        assert [r["image"]["source"]["imageUri"] for r in sent] == uris
        for i in range(10):
            assert result.data["google_cloud"][f"i{i}"]["labels"], i

        many = " ".join(  # Vision takes 16 images a call: 20 fields make two
            f"i{i}: annotateImage(request: {image(f'gs://photos/more-{i}.jpg')}) {{ fullText }}"
            for i in range(20)
        )
        more = await execute(url, gc(many))
        assert more.errors is None, more.errors
        assert self.state.annotate_batches == [10, 16, 4]


class TestGoogleCloudServiceAccountContract(TestGoogleCloudContract):
    """The same contract with a service account's JWT grant instead of an API key."""

    def config(self, fake: FakeUpstream) -> dict[str, Any]:
        state = getattr(self, "state", None) or GoogleCloudState()
        key_json = state.service_account_json(f"{fake.url}/token")
        return google_cloud_config(fake.url, service_account_json=key_json, poll_interval=0.01)

    def wrong_config(self, fake: FakeUpstream) -> dict[str, Any]:
        self.forged = GoogleCloudState()  # the same account's email, another private key
        key_json = self.forged.service_account_json(f"{fake.url}/token")
        return google_cloud_config(fake.url, service_account_json=key_json)

    def secrets(self) -> list[str]:
        states = [*getattr(self, "states", []), *([self.forged] if hasattr(self, "forged") else [])]
        found: list[str] = []
        for state in states:
            pem = orjson.loads(state.service_account_json("x"))["private_key"]
            found += [pem, pem.splitlines()[1], *state.tokens]
        assert any(state.tokens for state in states)  # the tokens issued are checked too
        return found


# --- beyond the contract ----------------------------------------------------------------------


@contextlib.asynccontextmanager
async def google(state: GoogleCloudState, **config: Any) -> AsyncIterator[tuple[str, FakeUpstream]]:
    async with FakeUpstream(create_google_cloud_app(state)) as fake:
        runtime = Runtime()
        settings = google_cloud_config(fake.url, poll_interval=0.01, **config)
        if "service_account_json" not in config and "api_key" not in config:
            settings["service_account_json"] = state.service_account_json(f"{fake.url}/token")
        runtime.add(load_spec(builtin_spec("google_cloud")), settings)
        async with serving(runtime) as url:
            yield url, fake
        assert state.validated == api_calls(fake)
    assert state.violations == []


async def test_a_service_account_signs_one_jwt_grant_and_reuses_its_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    state = GoogleCloudState()
    async with google(state) as (url, fake):
        for name in ("translate", "annotateImage", "recognize", "supportedLanguages"):
            result = await execute(url, QUERIES[name])
            assert result.errors is None, (name, result.errors)
        grant = next(r for r in fake.requests if r.path == "/token")
        api_calls = [r for r in fake.requests if r.path != "/token"]
    assert state.token_grants == 1  # one token for all three APIs
    assert fake.count("POST", "/token") == 1
    assert grant.headers["Content-Type"] == "application/x-www-form-urlencoded"
    tokens = {r.headers["Authorization"] for r in api_calls}
    assert tokens == {f"Bearer {next(iter(state.tokens))}"}
    assert all("X-Goog-Api-Key" not in r.headers for r in api_calls)
    key = state.service_account().key.private_bytes  # the private key never shows up
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "PRIVATE KEY" not in logged
    assert next(iter(state.tokens)) not in logged
    assert key is not None


async def test_a_service_account_key_file_is_read_once_at_start(tmp_path: Path) -> None:
    state = GoogleCloudState()
    key_file = tmp_path / "key.json"
    async with FakeUpstream(create_google_cloud_app(state)) as fake:
        key_file.write_text(state.service_account_json(f"{fake.url}/token"))
        runtime = Runtime()
        config = google_cloud_config(fake.url, service_account_file=str(key_file))
        runtime.add(load_spec(builtin_spec("google_cloud")), config)
        key_file.unlink()  # read when the connector was added
        async with serving(runtime) as url:
            result = await execute(url, QUERIES["detectLanguage"])
    assert result.errors is None, result.errors
    assert state.token_grants == 1
    assert state.violations == []


async def test_an_expired_token_is_fetched_again_once() -> None:
    state = GoogleCloudState()
    async with google(state) as (url, fake):
        assert (await execute(url, QUERIES["translate"])).errors is None
        for token in state.tokens:
            state.tokens[token] = 0.0  # the fake now says 401 ACCESS_TOKEN_EXPIRED
        result = await execute(url, QUERIES["translate"])
    assert result.errors is None, result.errors
    assert state.token_grants == 2
    assert fake.count("POST", "/token") == 2


async def test_a_key_the_fake_does_not_know_is_refused_at_the_token_endpoint() -> None:
    state = GoogleCloudState()
    stranger = GoogleCloudState()  # same email, another private key
    async with FakeUpstream(create_google_cloud_app(state)) as fake:
        state.service_account()
        forged = stranger.service_account_json(f"{fake.url}/token")
        runtime = Runtime()
        runtime.add(
            load_spec(builtin_spec("google_cloud")),
            google_cloud_config(fake.url, service_account_json=forged),
        )
        async with serving(runtime) as url:
            result = await execute(url, QUERIES["translate"])
    error = result.errors[0]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "invalid_grant" in error["message"]
    assert "PRIVATE KEY" not in str(result.errors)
    assert state.token_grants == 0
    assert fake.count() == 1  # no API call without a token


async def test_translate_sends_what_the_v3_api_expects() -> None:
    state = GoogleCloudState()
    async with google(state, api_key=DEFAULT_API_KEY) as (url, fake):
        result = await execute(
            url,
            '{ google_cloud { translate(text: "Hola", targetLanguage: "en", sourceLanguage: "es")'
            " { translatedText detectedLanguageCode } } }",
        )
        sent = fake.requests[-1]
    assert result.data == {
        "google_cloud": {"translate": {"translatedText": "[en] Hola", "detectedLanguageCode": None}}
    }
    assert sent.path == f"/translate/v3/projects/{state.project_id}/locations/global:translateText"
    assert sent.json() == {
        "contents": ["Hola"],
        "targetLanguageCode": "en",
        "sourceLanguageCode": "es",
        "mimeType": "text/plain",
    }
    assert sent.headers["X-Goog-Api-Key"] == DEFAULT_API_KEY
    assert "key" not in sent.query  # the key stays out of URLs
    assert state.methods == ["translate.projects.locations.translateText"]


async def test_a_request_the_discovery_document_refuses_is_recorded() -> None:
    state = GoogleCloudState()
    async with FakeUpstream(create_google_cloud_app(state)) as fake:
        import aiohttp

        async with aiohttp.ClientSession() as session:
            sent = await session.post(
                f"{fake.url}/vision/v1/images:annotate",
                json={"requests": [{"image": {"uri": "gs://x"}, "features": [{"type": "NOPE"}]}]},
                headers={"X-Goog-Api-Key": DEFAULT_API_KEY},
            )
            body = await sent.json()
            missing = await session.get(
                f"{fake.url}/speech/v1/speech:recognize",
                headers={"X-Goog-Api-Key": DEFAULT_API_KEY},
            )
    assert sent.status == 400
    assert body["error"]["status"] == "INVALID_ARGUMENT"
    assert missing.status == 405
    assert state.violations == [
        "vision.images.annotate: BatchAnnotateImagesRequest.requests[0].image: unknown field 'uri'",
        "vision.images.annotate: BatchAnnotateImagesRequest.requests[0].features[0].type: "
        "'NOPE' is not one of the enum's values",
        "GET /speech/v1/speech:recognize: no such discovery method",
    ]


async def test_a_long_running_recognition_is_polled_until_done() -> None:
    state = GoogleCloudState(polls_until_done=3)
    async with google(state, api_key=DEFAULT_API_KEY) as (url, fake):
        result = await execute(url, QUERIES["longRunningRecognize"])
        name = next(iter(state.operations))
        reread = await execute(
            url,
            gc(
                f'speechOperation(name: "{name}") '
                "{ name done progressPercent results { transcript } }"
            ),
        )
    assert result.errors is None, result.errors
    assert result.data["google_cloud"]["longRunningRecognize"] == [
        {"transcript": "a much longer recording", "confidence": 0.92, "languageCode": "en-us"}
    ]
    assert fake.count("POST", "/speech/v1/speech:longrunningrecognize") == 1
    assert fake.count("GET", f"/speech/v1/operations/{name}") == 3 + 1
    assert reread.data["google_cloud"]["speechOperation"] == {
        "name": name,
        "done": True,
        "progressPercent": 100,
        "results": [{"transcript": "a much longer recording"}],
    }


async def test_a_failed_operation_is_an_error_and_a_slow_one_times_out() -> None:
    state = GoogleCloudState(fail_operations=True)
    async with google(state, api_key=DEFAULT_API_KEY) as (url, _):
        failed = await execute(url, QUERIES["longRunningRecognize"])
    assert failed.errors[0]["message"] == "Audio data could not be decoded."
    assert failed.errors[0]["extensions"]["code"] == "UPSTREAM_ERROR"

    slow = GoogleCloudState(polls_until_done=1_000_000)
    async with google(slow, api_key=DEFAULT_API_KEY, poll_timeout=0.2) as (url, fake):
        timed_out = await execute(url, QUERIES["longRunningRecognize"])
    assert timed_out.errors[0]["extensions"]["code"] == "UPSTREAM_TIMEOUT"
    assert 1 <= fake.count("GET") <= 20


async def test_an_image_of_a_batch_can_fail_alone() -> None:
    state = GoogleCloudState()
    async with google(state, api_key=DEFAULT_API_KEY) as (url, fake):
        result = await execute(
            url,
            gc(
                f"ok: annotateImage(request: {image('gs://b/ok.png')}) "
                "{ labels { description } } "
                "bad: annotateImage(request: {image: {}, features: [{type: LABEL_DETECTION}]}) "
                "{ labels { description } errorMessage }"
            ),
        )
    assert result.errors is None, result.errors
    assert fake.count("POST", "/vision/v1/images:annotate") == 1
    assert result.data["google_cloud"]["ok"]["labels"]
    assert result.data["google_cloud"]["bad"] == {
        "labels": None,
        "errorMessage": "No image present.",
    }


@pytest.mark.parametrize(
    "key_json",
    [
        pytest.param('{"client_email": "a@b", "private_key": "SECRETPEM"}', id="not-a-pem"),
        pytest.param('{"private_key": "SECRETPEM"', id="not-json"),
        pytest.param('{"type": "service_account", "private_key": "SECRETPEM"}', id="no-email"),
    ],
)
def test_a_broken_service_account_key_is_a_config_error_that_keeps_it_secret(
    key_json: str,
) -> None:
    runtime = Runtime()
    with pytest.raises(ConfigError) as raised:
        runtime.add(
            load_spec(builtin_spec("google_cloud")),
            google_cloud_config("http://127.0.0.1:9", service_account_json=key_json),
        )
    assert "SECRETPEM" not in str(raised.value)
    assert "service account" in str(raised.value)
