"""The REST API with the old system's bodies: create, start and request as its clients send
them, the errors they get (422 naming the field, 404 for an unknown endpoint), and the
secret in auth_config never in any answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from connectql import ControlPlane, SpecBuilder
from connectql.testing import FakeUpstream
from connectql.testing.fakes.openai import DEFAULT_API_KEY, OpenAIState, create_openai_app
from tests.support import ADMIN_KEY, control_server

SECRET = "legacy-secret-key-0123456789"


def data_api() -> web.Application:
    """GET /data?limit=N, GET /users/{id} behind X-API-Key."""

    async def guard(request: web.Request) -> None:
        if request.headers.get("X-API-Key") != SECRET:
            raise web.HTTPUnauthorized(text='{"error": "bad key"}', content_type="application/json")

    async def data(request: web.Request) -> web.Response:
        await guard(request)
        limit = int(request.query.get("limit", "3"))
        return web.json_response([{"user_id": i, "user_name": f"U{i}"} for i in range(limit)])

    async def user(request: web.Request) -> web.Response:
        await guard(request)
        return web.json_response({"user_id": request.match_info["id"]})

    app = web.Application()
    app.router.add_get("/data", data)
    app.router.add_get("/users/{id}", user)
    return app


@dataclass
class Api:
    """Our server's REST API; every answer's text is kept, to look for the secret."""

    url: str
    http: aiohttp.ClientSession
    control: ControlPlane
    answers: list[str] = field(default_factory=list)

    async def __call__(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        async with self.http.request(
            method, f"{self.url}/api/connectors{path}", json=body, headers=headers
        ) as resp:
            self.answers.append(await resp.text())
            return resp.status, await resp.json()


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with control_server(tmp_path) as (url, control), aiohttp.ClientSession() as http:
        yield Api(url, http, control)


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(data_api()) as fake:
        yield fake


def old_body(url: str, **changes: Any) -> dict[str, Any]:
    body = {
        "name": "Test Connector",
        "description": "Test API connector",
        "connector_type": "custom_rest",
        "base_url": url,
        "authentication_type": "api_key",
        "auth_config": {"api_key": SECRET},
        "endpoints": [
            {"name": "get_data", "path": "/data", "method": "GET", "parameters": {"limit": 10}},
            {"name": "get_user", "path": "/users/{user_id}", "request_schema": {}},
        ],
    }
    return {k: v for k, v in {**body, **changes}.items() if v is not None}


async def test_the_old_example_runs(api: Api, upstream: FakeUpstream) -> None:
    status, created = await api("POST", "", old_body(upstream.url))
    assert status == 201
    assert created["connector_id"] == "test_connector"
    assert created["connector"]["state"] == "stopped"  # as before, it waits for /start
    assert created["connector"]["operations"] == ["getData", "getUser"]
    status, started = await api("POST", "/test_connector/start")
    assert (status, started["connector"]["state"]) == (200, "running")

    body = {"endpoint_name": "get_data", "params": {"limit": 2}}
    status, result = await api("POST", "/test_connector/request", body)
    assert status == 200
    assert result["data"] == [{"user_id": 0, "user_name": "U0"}, {"user_id": 1, "user_name": "U1"}]
    assert upstream.requests[-1].headers["X-API-Key"] == SECRET
    status, result = await api(
        "POST", "/test_connector/request", {"operation": "getData", "args": {"limit": 1}}
    )
    assert result["data"] == [{"user_id": 0, "user_name": "U0"}]
    body = {"endpoint_name": "getUser", "params": {"user_id": "7"}}
    status, result = await api("POST", "/test_connector/request", body)
    assert (status, result["data"]) == (200, {"user_id": "7"})
    assert upstream.requests[-1].path == "/users/7"

    mapped = {
        "endpoint_name": "get_data",
        "params": {"limit": 1},
        "transform_mapping": {"user_id": "id", "user_name": "name"},
    }
    status, result = await api("POST", "/test_connector/request", mapped)
    assert result["data"] == [{"id": 0, "name": "U0"}]

    await api("GET", "/test_connector")
    await api("GET", "")
    assert all(SECRET not in answer for answer in api.answers)


async def test_timeout_retries_and_headers_are_carried_over(
    api: Api, upstream: FakeUpstream
) -> None:
    body = old_body(upstream.url, timeout=5, retry_attempts=2, headers={"X-Client": "old"})
    await api("POST", "", body)
    await api("POST", "/test_connector/start")
    source = api.control.runtime.connectors["test_connector"].spec.source
    assert (source.timeouts.total, source.retry.max_attempts) == (5, 2)
    await api("POST", "/test_connector/request", {"endpoint_name": "get_data"})
    assert upstream.requests[-1].headers["X-Client"] == "old"


async def test_custom_rest_without_endpoints_gets_them_later(
    api: Api, upstream: FakeUpstream
) -> None:
    status, created = await api("POST", "", old_body(upstream.url, endpoints=None))
    assert created["connector"]["operations"] == ["root"]
    await api("POST", "/test_connector/start")
    more = SpecBuilder("Test Connector", upstream.url, auth="api_key")
    more.add_endpoint("root", "/").add_endpoint("get_data", "/data", parameters={"limit": 1})
    status, updated = await api("PUT", "/test_connector", {"spec": more.yaml()})
    assert status == 200, updated
    assert updated["connector"]["operations"] == ["getData", "root"]
    status, result = await api(
        "POST", "/test_connector/request", {"endpoint_name": "get_data", "params": {"limit": 1}}
    )
    assert result["data"] == [{"user_id": 0, "user_name": "U0"}]  # the stored key still works


async def test_a_prebuilt_type_with_the_old_base_url_and_credential(api: Api) -> None:
    async with FakeUpstream(create_openai_app(OpenAIState())) as openai:
        body = {
            "name": "OpenAI API",
            "connector_type": "openai",
            "base_url": openai.url,  # the old connector added /v1 to each endpoint
            "authentication_type": "bearer",
            "auth_config": {"token": DEFAULT_API_KEY},
        }
        status, created = await api("POST", "", body)
        # named as the importer names things: OpenAI → open_ai
        assert (status, created["connector_id"]) == (201, "open_ai_api")
        await api("POST", "/open_ai_api/start")
        chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
        status, result = await api(
            "POST", "/open_ai_api/request", {"endpoint_name": "chatCompletion", "data": chat}
        )
        assert result["ok"], result
        assert result["data"]["choices"][0]["message"]["content"] == "echo: Hi"
        assert openai.requests[-1].path == "/v1/chat/completions"
    assert all(DEFAULT_API_KEY not in answer for answer in api.answers)


@pytest.mark.parametrize(
    ("changes", "where", "says"),
    [
        pytest.param(
            {"connector_type": "aws"}, "connector_type", "unknown type 'aws'", id="unknown-type"
        ),
        pytest.param(
            {"base_url": None},
            "base_url",
            "required for connector_type custom_rest",
            id="missing-base-url",
        ),
        pytest.param(
            {"base_url": "ftp://example.com"}, "base_url", "http(s) URL", id="not-http-base-url"
        ),
        pytest.param(
            {"authentication_type": "kerberos"},
            "authentication_type",
            "unknown type 'kerberos'",
            id="unknown-auth-type",
        ),
        pytest.param(
            {"auth_config": {"apikey": SECRET}},
            "auth_config",
            "unknown key apikey for authentication_type api_key",
            id="unknown-auth-key",
        ),
        pytest.param(
            {"authentication_type": "basic"},
            "auth_config",
            "unknown key api_key for authentication_type basic",
            id="auth-config-of-another-type",
        ),
        pytest.param(
            {"auth_config": {}}, "auth_config", "api_key is needed", id="missing-credential"
        ),
        pytest.param(
            {"endpoints": [{"name": "x", "path": "/x", "method": "FETCH"}]},
            "endpoints[0].method",
            "'FETCH' is not one of GET",
            id="bad-method",
        ),
        pytest.param(
            {"endpoints": [{"name": "get_x", "path": "/x"}, {"name": "getX", "path": "/y"}]},
            "",
            "would both be operation 'getX'",
            id="endpoints-named-alike",
        ),
        pytest.param(
            {"connector_type": "github", "auth_config": {"token": SECRET}},
            "",
            "only custom_rest takes endpoints",
            id="endpoints-of-a-prebuilt",
        ),
        pytest.param(
            {"headers": {"Authorization": f"Bearer {SECRET}"}},
            "headers",
            "put them in auth_config",
            id="credential-header",
        ),
        pytest.param({"name": "!!!"}, "name", "no letters or digits", id="nameless"),
        pytest.param({"colour": "red"}, "colour", "Extra inputs", id="unknown-field"),
    ],
)
async def test_an_old_body_that_cannot_work_is_a_422_naming_the_field(
    api: Api, changes: dict[str, Any], where: str, says: str
) -> None:
    status, body = await api("POST", "", old_body("http://127.0.0.1:9", **changes))
    assert status == 422
    assert body["code"] == "BAD_USER_INPUT"
    [problem] = body["problems"]
    assert problem["path"] == where
    assert says in problem["message"]
    assert SECRET not in api.answers[-1]


async def test_request_errors(api: Api, upstream: FakeUpstream) -> None:
    await api("POST", "", old_body(upstream.url))
    status, body = await api("POST", "/test_connector/request", {"endpoint_name": "get_data"})
    assert (status, body["code"]) == (400, "BAD_REQUEST")
    assert "is stopped; start it first" in body["message"]
    await api("POST", "/test_connector/start")

    status, body = await api("POST", "/test_connector/request", {"endpoint_name": "get_everything"})
    assert (status, body["code"]) == (404, "NOT_FOUND")
    assert body["message"] == (
        "connector 'test_connector' has no endpoint 'get_everything' (operations: getData, getUser)"
    )
    status, body = await api("POST", "/nothing/request", {"endpoint_name": "get_data"})
    assert (status, body["code"]) == (404, "NOT_FOUND")

    wrong = {"endpoint_name": "get_data", "params": {"offset": 5}}
    status, body = await api("POST", "/test_connector/request", wrong)
    assert status == 422
    assert body["message"] == "params: getData has no argument offset (takes: limit)"
    bad_map = {"endpoint_name": "get_data", "transform_mapping": {"a..b": "id"}}
    status, body = await api("POST", "/test_connector/request", bad_map)
    assert status == 422
    assert body["message"].startswith("transform_mapping['a..b']: bad path 'a..b'")
    with_headers = {"endpoint_name": "get_data", "headers": {"X-Trace": "1"}}
    status, body = await api("POST", "/test_connector/request", with_headers)
    assert (status, body["problems"][0]["path"]) == (422, "headers")
    assert all(SECRET not in answer for answer in api.answers)


async def test_a_taken_name_is_a_conflict(api: Api, upstream: FakeUpstream) -> None:
    await api("POST", "", old_body(upstream.url))
    status, body = await api("POST", "", old_body(upstream.url, name="test connector"))
    assert (status, body["code"]) == (409, "CONFLICT")
