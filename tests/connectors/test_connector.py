"""The Connector against a real fake upstream: retries, Retry-After, breaker, limits, secrets."""

from __future__ import annotations

import email.utils
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from connectql.connectors.connector import Connector, resolve_config
from connectql.errors import (
    AuthError,
    CircuitOpen,
    ConfigError,
    RateLimited,
    UpstreamError,
    UpstreamUnavailable,
)
from connectql.spec.models import ConnectorSpec
from connectql.testing import FakeClock, FakeUpstream, Fault


def make_spec(**source: Any) -> ConnectorSpec:
    return ConnectorSpec.model_validate(
        {
            "connector": {"name": "things"},
            "config": {"base_url": {"required": True}, "token": {"secret": True}},
            "source": {"base_url": "{config.base_url}", **source},
            "types": {"Thing": {"fields": {"id": "ID!", "name": "String"}}},
            "operations": {
                "thing": {
                    "args": {"id": "ID!"},
                    "request": {"path": "/things/{args.id}"},
                    "response": {"type": "Thing"},
                },
                "createThing": {
                    "kind": "mutation",
                    "args": {"name": "String!"},
                    "request": {
                        "method": "POST",
                        "path": "/things",
                        "body": {"name": "{args.name}"},
                    },
                    "response": {"type": "Thing"},
                },
                "search": {
                    "args": {"q": "String", "tags": "[String!]"},
                    "request": {
                        "path": "/search",
                        "query": {"q": "{args.q}", "tag": "{args.tags}"},
                    },
                    "response": {"type": "[Thing!]!", "records": "items"},
                },
            },
        }
    )


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    async def thing(request: web.Request) -> web.Response:
        return web.json_response({"id": request.match_info["id"], "name": "a thing"})

    async def create(request: web.Request) -> web.Response:
        return web.json_response({"id": "new", **(await request.json())}, status=201)

    async def search(request: web.Request) -> web.Response:
        return web.json_response({"items": [{"id": "1", "q": request.query.get("q")}]})

    up = FakeUpstream()
    up.app.router.add_get("/things/{id}", thing)
    up.app.router.add_post("/things", create)
    up.app.router.add_get("/search", search)
    async with up:
        yield up


async def connector_for(up: FakeUpstream, clock: FakeClock, **source: Any) -> Connector:
    connector = Connector(make_spec(**source), {"base_url": up.url}, clock=clock)
    await connector.start()
    return connector


async def test_503_then_200_succeeds_in_two_calls(upstream: FakeUpstream) -> None:
    clock = FakeClock()
    connector = await connector_for(upstream, clock)
    upstream.faults.add(Fault(status=503), times=1)
    try:
        assert await connector.execute("thing", {"id": "1"}) == {"id": "1", "name": "a thing"}
    finally:
        await connector.stop()
    assert upstream.count("GET", "/things/1") == 2
    assert connector.metrics.retries == 1
    assert len(clock.sleeps) == 1


@pytest.mark.parametrize(
    "retry_after",
    [
        pytest.param("2", id="seconds"),
        pytest.param(email.utils.formatdate(FakeClock().time() + 2, usegmt=True), id="http-date"),
    ],
)
async def test_429_retry_after_is_waited_on_the_clock(
    upstream: FakeUpstream, retry_after: str
) -> None:
    clock = FakeClock()
    connector = await connector_for(upstream, clock)
    upstream.faults.add(Fault(status=429, headers={"Retry-After": retry_after}), times=1)
    try:
        assert (await connector.execute("thing", {"id": "9"}))["id"] == "9"
    finally:
        await connector.stop()
    assert clock.sleeps == [pytest.approx(2.0)]
    assert upstream.count() == 2


async def test_retry_after_longer_than_allowed_fails_at_once(upstream: FakeUpstream) -> None:
    clock = FakeClock()
    connector = await connector_for(upstream, clock, retry={"max_retry_after": 10})
    upstream.faults.add(Fault(status=429, headers={"Retry-After": "3600"}), times=1)
    with pytest.raises(RateLimited) as caught:
        await connector.execute("thing", {"id": "1"})
    await connector.stop()
    assert caught.value.retry_after == 3600
    assert caught.value.extensions()["code"] == "RATE_LIMITED"
    assert clock.sleeps == []
    assert upstream.count() == 1


async def test_post_is_not_retried_by_default(upstream: FakeUpstream) -> None:
    connector = await connector_for(upstream, FakeClock())
    upstream.faults.add(Fault(status=503), times=1)
    with pytest.raises(UpstreamError) as caught:
        await connector.execute("createThing", {"name": "x"})
    await connector.stop()
    assert caught.value.status == 503
    assert caught.value.retryable is True
    assert upstream.count("POST", "/things") == 1


async def test_connection_failures_retry_then_fail_typed(upstream: FakeUpstream) -> None:
    clock = FakeClock()
    connector = await connector_for(upstream, clock, retry={"max_attempts": 3})
    upstream.faults.add(Fault(reset=True), times=None)
    with pytest.raises(UpstreamUnavailable):
        await connector.execute("thing", {"id": "1"})
    await connector.stop()
    assert len(clock.sleeps) == 2


async def test_breaker_opens_after_failures_and_half_opens_after_cool_down(
    upstream: FakeUpstream,
) -> None:
    clock = FakeClock()
    connector = await connector_for(
        upstream,
        clock,
        retry={"max_attempts": 1},
        circuit_breaker={"failure_threshold": 3, "cool_down": 30},
    )
    upstream.faults.add(Fault(status=500), times=3)
    for _ in range(3):
        with pytest.raises(UpstreamError):
            await connector.execute("thing", {"id": "1"})
    assert connector.breaker is not None
    assert connector.breaker.state == "open"
    with pytest.raises(CircuitOpen):
        await connector.execute("thing", {"id": "1"})
    assert upstream.count() == 3  # the open breaker made no call
    clock.advance(31)
    assert connector.breaker.state == "half_open"
    assert (await connector.execute("thing", {"id": "1"}))["id"] == "1"
    assert connector.breaker.state == "closed"
    assert connector.metrics.breaker_state == "closed"
    await connector.stop()


async def test_rate_limiter_waits_on_the_clock(upstream: FakeUpstream) -> None:
    clock = FakeClock()
    connector = await connector_for(
        upstream, clock, rate_limit={"requests_per_second": 2, "burst": 1}
    )
    for i in range(3):
        await connector.execute("thing", {"id": str(i)})
    await connector.stop()
    assert connector.metrics.rate_limit_waits == 2
    assert sum(clock.sleeps) == pytest.approx(1.0)


async def test_query_lists_and_nulls(upstream: FakeUpstream) -> None:
    connector = await connector_for(upstream, FakeClock())
    result = await connector.execute("search", {"q": "a b&c", "tags": None})
    await connector.stop()
    assert result == [{"id": "1", "q": "a b&c"}]
    recorded = upstream.requests[-1]
    assert recorded.query.getall("q") == ["a b&c"]
    assert "tag" not in recorded.query


async def test_path_values_are_percent_encoded(upstream: FakeUpstream) -> None:
    connector = await connector_for(upstream, FakeClock())
    result = await connector.execute("thing", {"id": "../admin?x=1"})
    await connector.stop()
    assert result["id"] == "../admin?x=1"
    assert upstream.requests[-1].path == "/things/../admin?x=1"
    assert upstream.count("GET", "/admin") == 0


async def test_session_is_lazy_pooled_and_resettable(upstream: FakeUpstream) -> None:
    connector = await connector_for(upstream, FakeClock())
    first = connector.session
    assert connector.session is first
    await connector.execute("thing", {"id": "1"})
    await connector.reset_session()
    assert first.closed
    assert connector.session is not first
    await connector.stop()
    assert connector._session is None


async def test_pagination_links_to_foreign_hosts_are_refused(upstream: FakeUpstream) -> None:
    connector = await connector_for(upstream, FakeClock())
    request = connector.build_request(
        "thing", connector.operation("thing").request, {"args": {"id": "1"}}
    )
    request.url = "http://169.254.169.254/latest/meta-data"
    with pytest.raises(UpstreamError, match="refusing to call host"):
        await connector.exchange.send("thing", connector.operation("thing"), request)
    await connector.stop()


async def test_an_operation_with_its_own_base_url_calls_that_host(
    upstream: FakeUpstream,
) -> None:
    other = FakeUpstream()

    async def image(request: web.Request) -> web.Response:
        return web.json_response({"id": request.match_info["id"], "name": "elsewhere"})

    other.app.router.add_get("/v1/images/{id}", image)
    spec = make_spec().model_dump(by_alias=True, exclude_unset=True)
    spec["config"]["images_url"] = {"required": True}
    spec["operations"]["image"] = {
        "args": {"id": "ID!"},
        "request": {"base_url": "{config.images_url}/v1/", "path": "/images/{args.id}"},
        "response": {"type": "Thing"},
    }
    async with other:
        connector = Connector(
            ConnectorSpec.model_validate(spec),
            {"base_url": upstream.url, "images_url": other.url},
            clock=FakeClock(),
        )
        await connector.start()
        try:
            assert await connector.execute("image", {"id": "7"}) == {"id": "7", "name": "elsewhere"}
            assert await connector.execute("thing", {"id": "1"}) == {"id": "1", "name": "a thing"}
        finally:
            await connector.stop()
    assert other.count("GET", "/v1/images/7") == 1
    assert upstream.count("GET", "/things/1") == 1


def test_config_is_checked_against_the_spec() -> None:
    spec = make_spec()
    with pytest.raises(ConfigError, match="'base_url' is required"):
        resolve_config(spec, {})
    with pytest.raises(ConfigError, match="unknown config key"):
        resolve_config(spec, {"base_url": "http://x", "nope": 1})


async def test_secrets_are_redacted_from_logs_and_messages(
    upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    spec = make_spec(auth={"type": "bearer", "token": "{config.token}"})
    connector = Connector(
        spec, {"base_url": upstream.url, "token": "tok-supersecret-123"}, clock=FakeClock()
    )
    await connector.start()
    upstream.faults.add(Fault(status=401, body="bad token tok-supersecret-123"), times=1)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthError) as caught:
        await connector.execute("thing", {"id": "1"})
    await connector.stop()
    assert upstream.requests[0].headers["Authorization"] == "Bearer tok-supersecret-123"
    assert "tok-supersecret-123" not in str(caught.value)
    assert "tok-supersecret-123" not in caplog.text
    assert connector.redact("x tok-supersecret-123 y") == "x [redacted] y"
