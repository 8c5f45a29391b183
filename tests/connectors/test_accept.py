"""Content negotiation: a request asks for the media type the spec chose to parse."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from connectql.connectors.connector import Connector
from connectql.spec.models import ConnectorSpec
from connectql.testing import FakeUpstream

BODIES = {
    "json": ('{"name": "a"}', "application/json"),
    "xml": ("<thing><name>a</name></thing>", "application/xml"),
    "form": ("name=a", "application/x-www-form-urlencoded"),
    "text": ("a", "text/plain"),
}


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    async def thing(request: web.Request) -> web.Response:
        text, content_type = BODIES[request.match_info["kind"]]
        return web.Response(text=text, content_type=content_type)

    up = FakeUpstream()
    up.app.router.add_get("/things/{kind}", thing)
    async with up:
        yield up


def spec_for(kind: str, response_format: str | None, **request: Any) -> ConnectorSpec:
    return ConnectorSpec.model_validate(
        {
            "connector": {"name": "things"},
            "config": {"base_url": {"required": True}},
            "source": {"base_url": "{config.base_url}", **request.pop("source", {})},
            "operations": {
                "thing": {
                    "request": {"path": f"/things/{kind}", **request},
                    "response": {"type": "JSON", "format": response_format},
                }
            },
        }
    )


async def accept_sent(up: FakeUpstream, spec: ConnectorSpec) -> str:
    connector = Connector(spec, {"base_url": up.url})
    try:
        await connector.execute("thing", {})
    finally:
        await connector.stop()
    return up.requests[-1].headers["Accept"]


@pytest.mark.parametrize(
    ("kind", "accept"),
    [
        pytest.param("json", "application/json", id="json"),
        pytest.param("xml", "application/xml", id="xml"),
        pytest.param("form", "application/x-www-form-urlencoded", id="form"),
        pytest.param("text", "text/plain", id="text"),
    ],
)
async def test_the_response_format_is_what_the_request_accepts(
    upstream: FakeUpstream, kind: str, accept: str
) -> None:
    assert await accept_sent(upstream, spec_for(kind, kind)) == accept


async def test_without_a_format_json_is_preferred_and_anything_accepted(
    upstream: FakeUpstream,
) -> None:
    assert await accept_sent(upstream, spec_for("json", None)) == "application/json, */*;q=0.8"


async def test_an_accept_header_in_the_spec_wins(upstream: FakeUpstream) -> None:
    chosen = "application/vnd.github+json"
    spec = spec_for("json", "json", headers={"Accept": chosen})
    assert await accept_sent(upstream, spec) == chosen
    spec = spec_for("json", "json", source={"headers": {"accept": chosen}})
    assert await accept_sent(upstream, spec) == chosen
