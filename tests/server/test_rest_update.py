"""`PUT /api/connectors/{id}` with `config` is one change: the new spec and the merged config
are both stored, or neither, and the answer says which. (It used to store the new version,
then answer 400 when the config step failed.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connectql.control.service import ControlPlane
from connectql.demo.upstream import create_bookstore_app
from connectql.testing import FakeUpstream
from tests.support import ADMIN_KEY, DEMO_KEY, bookstore_spec_text, control_server

WITH_LIMIT = bookstore_spec_text(**{"config.limit": {"type": "integer", "default": 10}})
"""A compatible new version: one more config key, an integer."""


@pytest.fixture
async def rest(tmp_path: Path) -> AsyncIterator[tuple[str, ControlPlane, aiohttp.ClientSession]]:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with (
        FakeUpstream(create_bookstore_app(DEMO_KEY)) as upstream,
        control_server(tmp_path) as (url, control),
        aiohttp.ClientSession(headers=headers) as http,
    ):
        config = {"base_url": upstream.url, "api_key": DEMO_KEY}
        body = {"spec": bookstore_spec_text(), "config": config}
        async with http.post(f"{url}/api/connectors", json=body) as response:
            assert response.status == 201
        yield f"{url}/api/connectors/bookstore", control, http


async def put(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> tuple[int, Any]:
    async with http.put(url, json=body) as response:
        return response.status, await response.json()


async def stored_state(
    http: aiohttp.ClientSession, url: str, control: ControlPlane
) -> tuple[int, set[str]]:
    """The version the API reports, after checking the registry itself says the same."""
    async with http.get(url) as response:
        shown = (await response.json())["registry_version"]
    assert control.registry is not None
    stored = await control.registry.get("bookstore")
    assert stored.version == shown
    return shown, set(stored.config)


@pytest.mark.parametrize(
    ("config", "words", "running"),
    [
        pytest.param({"limt": 5}, "unknown config key(s) limt", True, id="unknown-key"),
        pytest.param({"limit": "many"}, "'limit' must be a integer", True, id="wrong-type"),
        pytest.param({"api_key": None}, "'api_key' is required", True, id="required-removed"),
        pytest.param({"limt": 5}, "unknown config key(s) limt", False, id="stopped-unknown-key"),
        pytest.param(
            {"limit": "many"}, "'limit' must be a integer", False, id="stopped-wrong-type"
        ),
    ],
)
async def test_a_config_that_fails_stores_nothing(
    rest: tuple[str, ControlPlane, aiohttp.ClientSession],
    config: dict[str, Any],
    words: str,
    running: bool,
) -> None:
    url, control, http = rest
    if not running:  # checked without starting it
        async with http.post(f"{url}/stop?force=true") as response:
            assert response.status == 200
    status, body = await put(http, url, {"spec": WITH_LIMIT, "config": config})
    assert (status, body["code"]) == (400, "CONFIG_INVALID")
    assert words in body["message"]
    assert await stored_state(http, url, control) == (1, {"base_url", "api_key"})
    assert "limit" not in control.stored["bookstore"].spec_text


async def test_a_refused_breaking_change_stores_no_config(
    rest: tuple[str, ControlPlane, aiohttp.ClientSession],
) -> None:
    url, control, http = rest
    breaking = bookstore_spec_text(**{"types.Book.fields.year": None, "config.limit": {}})
    status, body = await put(http, url, {"spec": breaking, "config": {"limit": "5"}})
    assert status == 409
    assert body["applied"] is False
    assert await stored_state(http, url, control) == (1, {"base_url", "api_key"})


async def test_spec_and_config_are_stored_together(
    rest: tuple[str, ControlPlane, aiohttp.ClientSession],
) -> None:
    url, control, http = rest
    status, body = await put(http, url, {"spec": WITH_LIMIT, "config": {"limit": 25}})
    assert status == 200, body
    assert body["applied"] is True
    assert body["connector"]["registry_version"] == 2
    assert await stored_state(http, url, control) == (2, {"base_url", "api_key", "limit"})
    assert control.runtime.connectors["bookstore"].config["limit"] == 25
