"""Three small spec features: `batch.each` (each key becomes an object in `{keys}`, for
multi-gets such as Gemini's batchEmbedContents), `allow_reserved` (a path value that is a
resource name keeps its `/`, each segment percent-encoded, and may not climb with `..`), and
`kind: subscription` with `poll` (a query read until a path holds; streamed over WebSocket in
tests/connectors/builtin/test_google_genai.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web

from connectql.connectors.connector import Connector
from connectql.errors import ConnectorError, SpecErrors
from connectql.spec.loader import load_spec_text
from connectql.spec.models import ConnectorSpec
from connectql.testing import FakeUpstream


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    async def many(request: web.Request) -> web.Response:
        items = (await request.json())["items"]
        return web.json_response({"found": [{"id": i["ref"]["id"]} for i in items]})

    async def anything(request: web.Request) -> web.Response:
        return web.json_response({"path": request.raw_path})

    up = FakeUpstream()
    up.app.router.add_post("/many", many)
    up.app.router.add_route("*", "/{tail:.*}", anything)
    async with up:
        yield up


def spec(**batch: Any) -> ConnectorSpec:
    return ConnectorSpec.model_validate(
        {
            "connector": {"name": "probe"},
            "config": {"base_url": {"required": True}, "kind": {"default": "book"}},
            "source": {"base_url": "{config.base_url}"},
            "types": {"Item": {"fields": {"id": "ID!"}}},
            "operations": {
                "item": {
                    "args": {"id": "ID!", "shelf": "String"},
                    "request": {"path": "/items/{args.id}"},
                    "response": {"type": "Item"},
                    "batch": {
                        "key": "id",
                        "mode": "request",
                        "request": {"method": "POST", "path": "/many", "body": {"items": "{keys}"}},
                        "records": "found",
                        "match_on": "id",
                        **batch,
                    },
                },
                "byName": {
                    "args": {"name": {"type": "String!", "allow_reserved": True}},
                    "request": {"path": "/v1/{args.name}"},
                    "response": {"type": "JSON"},
                },
            },
        }
    )


async def test_each_key_becomes_an_object(upstream: FakeUpstream) -> None:
    each = {"ref": {"id": "{key}", "kind": "{config.kind}"}, "shelf": "{args.shelf}"}
    connector = Connector(spec(each=each), {"base_url": upstream.url})
    try:
        found = await connector.fetch_batch("item", ["b", "a"], {"shelf": "top"})
    finally:
        await connector.stop()
    assert found == [{"id": "b"}, {"id": "a"}]
    assert upstream.requests[0].json() == {
        "items": [
            {"ref": {"id": "b", "kind": "book"}, "shelf": "top"},
            {"ref": {"id": "a", "kind": "book"}, "shelf": "top"},
        ]
    }


@pytest.mark.parametrize(
    ("each", "problem"),
    [
        pytest.param({"id": "{keys}"}, "{keys} is not available here", id="keys-in-each"),
        pytest.param({"id": "{key}", "x": "{args.nope}"}, "{args.nope}", id="unknown-arg"),
    ],
)
def test_each_is_checked(each: dict[str, Any], problem: str) -> None:
    text = orjson.dumps(spec(each=each).model_dump(by_alias=True, exclude_defaults=True))
    with pytest.raises(SpecErrors) as caught:
        load_spec_text(text.decode(), "probe.json")
    assert any(problem in str(e) for e in caught.value.errors), caught.value.errors


def test_key_only_in_each() -> None:
    data = spec().model_dump(by_alias=True, exclude_defaults=True)
    data["operations"]["item"]["request"]["path"] = "/items/{key}"
    with pytest.raises(SpecErrors) as caught:
        load_spec_text(orjson.dumps(data).decode(), "probe.json")
    assert any("{key} is not available here" in str(e) for e in caught.value.errors)


@pytest.mark.parametrize(
    ("name", "path"),
    [
        pytest.param("models/veo/operations/7", "/v1/models/veo/operations/7", id="slashes"),
        pytest.param("a b/c?d#e", "/v1/a%20b/c%3Fd%23e", id="segments-encoded"),
    ],
)
async def test_allow_reserved_keeps_slashes(upstream: FakeUpstream, name: str, path: str) -> None:
    connector = Connector(spec(), {"base_url": upstream.url})
    try:
        await connector.execute("byName", {"name": name})
    finally:
        await connector.stop()
    assert upstream.requests[-1].raw_path == path


@pytest.mark.parametrize("name", ["../admin", "models/../../x", "a//b", "a/./b", "a/"])
async def test_allow_reserved_refuses_climbing(upstream: FakeUpstream, name: str) -> None:
    connector = Connector(spec(), {"base_url": upstream.url})
    try:
        with pytest.raises(ConnectorError) as caught:
            await connector.execute("byName", {"name": name})
    finally:
        await connector.stop()
    assert caught.value.code == "BAD_USER_INPUT"
    assert upstream.requests == []


def subscription_spec(**poll: Any) -> dict[str, Any]:
    data = spec().model_dump(by_alias=True, exclude_defaults=True)
    data["operations"]["watch"] = {
        "kind": "subscription",
        "args": {"name": "String!"},
        "response": {"type": "JSON"},
        "poll": {"operation": "byName", "until": "done", **poll},
    }
    return data


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        pytest.param({"poll": None}, "a subscription operation needs poll", id="no-poll"),
        pytest.param(
            {"poll": {"operation": "item", "until": "done"}, "args": {"id": "ID!"}},
            "must be the type 'item' returns",
            id="other-type",
        ),
        pytest.param({"args": {"nope": "String"}}, "'byName' has no argument 'nope'", id="arg"),
        pytest.param(
            {"poll": {"operation": "missing", "until": "done"}},
            "'missing' is not an unpaginated query operation",
            id="unknown-operation",
        ),
    ],
)
def test_a_subscription_is_checked(change: dict[str, Any], problem: str) -> None:
    data = subscription_spec()
    data["operations"]["watch"].update(change)
    if data["operations"]["watch"]["poll"] is None:
        del data["operations"]["watch"]["poll"]
    with pytest.raises(SpecErrors) as caught:
        load_spec_text(orjson.dumps(data).decode(), "probe.json")
    assert any(problem in str(e) for e in caught.value.errors), caught.value.errors


def test_a_subscription_validates() -> None:
    loaded = load_spec_text(orjson.dumps(subscription_spec(every=1)).decode(), "probe.json")
    assert loaded.operations["watch"].poll is not None


def test_a_generated_client_leaves_subscriptions_out() -> None:
    from connectql.builder.client import generate_client

    loaded = load_spec_text(orjson.dumps(subscription_spec()).decode(), "probe.json")
    source = "".join(generate_client(loaded).values())
    assert "def by_name" in source
    assert "def watch" not in source  # served by connectql's Subscription root only
