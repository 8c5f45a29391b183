"""A sealed secret never becomes plain text: a new spec (updateConnector, REST PUT) or an
earlier version (rollbackConnector) that no longer marks its key `secret: true` is refused,
naming the key, and the value stays sealed in the registry and masked in every output. The
way out is explicit: remove the value first, then the key may change."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connectql.control.service import ControlPlane
from connectql.demo.upstream import create_bookstore_app
from connectql.testing import FakeUpstream
from tests.support import ADMIN_KEY, DEMO_KEY, bookstore_spec_text, control_server, execute

SECRET = "sk-live-keep-me-sealed-0123456789"
PLAIN = {"config.api_key": {"required": True}}
"""The demo spec with `api_key` no longer marked secret."""
REFUSED = "config key(s) api_key of connector 'bookstore' hold a secret"

UPDATE = """
mutation($spec: String!) {
  updateConnector(name: "bookstore", spec: $spec, force: true) {
    ... on ConnectorChanged { applied connector { registryVersion config } }
  }
}
"""
CONFIGURE = """
mutation($c: JSON!) {
  configureConnector(name: "bookstore", config: $c) { ... on ConnectorChanged { applied } }
}
"""
SHOW = '{ connector(name: "bookstore") { config spec registryVersion } }'


class Seen:
    """Everything the server answered, to search for the secret."""

    def __init__(self, url: str, http: aiohttp.ClientSession) -> None:
        self.url, self.http, self.texts = url, http, list[str]()

    async def graphql(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        result = await execute(self.url, query, variables)
        self.texts.append(f"{result.data} {result.errors}")
        return result

    async def rest(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.http.request(method, f"{self.url}/api/connectors{path}", json=body) as r:
            text = await r.text()
            self.texts.append(text)
            return r.status, await r.json()


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[Seen, ControlPlane]]:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with (
        FakeUpstream(create_bookstore_app(DEMO_KEY)) as upstream,
        control_server(tmp_path) as (url, control),
        aiohttp.ClientSession(headers=headers) as http,
    ):
        seen = Seen(url, http)
        status, _ = await seen.rest(
            "POST",
            "",
            {
                "spec": bookstore_spec_text(),
                "config": {"base_url": upstream.url, "api_key": SECRET},
            },
        )
        assert status == 201
        yield seen, control


def assert_sealed(directory: Path, seen: Seen) -> None:
    """Not in the registry's files (the database, its WAL), nor in any answer."""
    files = sorted(directory.glob("registry.db*"))
    assert files
    for file in files:
        assert SECRET.encode() not in file.read_bytes(), file.name
    assert [text for text in seen.texts if SECRET in text] == []


async def test_an_update_that_drops_secret_is_refused(
    tmp_path: Path, server: tuple[Seen, ControlPlane]
) -> None:
    seen, control = server
    updated = await seen.graphql(UPDATE, {"spec": bookstore_spec_text(**PLAIN)})
    assert updated.data is None
    (error,) = updated.errors
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert REFUSED in error["message"]
    assert "set api_key to null" in error["message"]

    status, body = await seen.rest("PUT", "/bookstore", {"spec": bookstore_spec_text(**PLAIN)})
    assert (status, body["code"]) == (400, "BAD_REQUEST")
    assert REFUSED in body["message"]

    shown = await seen.graphql(SHOW)
    assert shown.data["connector"]["registryVersion"] == 1  # nothing was stored
    assert shown.data["connector"]["config"]["api_key"] == "********"
    assert control.stored["bookstore"].secret_keys == {"api_key"}
    await seen.rest("GET", "/bookstore")
    await seen.rest("GET", "")
    assert_sealed(tmp_path, seen)


async def test_a_rollback_to_a_version_without_secret_is_refused(
    tmp_path: Path, server: tuple[Seen, ControlPlane]
) -> None:
    """Version 2 keeps the key in clear; once version 3 seals it again, version 2 cannot
    come back while the sealed value is there."""
    seen, _ = server
    status, _ = await seen.rest(
        "PUT", "/bookstore", {"spec": bookstore_spec_text(**PLAIN), "config": {"api_key": "v2"}}
    )
    assert status == 200
    sealed = await seen.graphql(UPDATE, {"spec": bookstore_spec_text()})
    assert sealed.data["updateConnector"]["connector"]["registryVersion"] == 3
    await seen.graphql(CONFIGURE, {"c": {"api_key": SECRET}})

    rolled = await seen.graphql(
        'mutation { rollbackConnector(name: "bookstore", version: 2, force: true) '
        "{ ... on ConnectorChanged { applied } } }"
    )
    assert REFUSED in rolled.errors[0]["message"]
    assert "version 2 does not mark them" in rolled.errors[0]["message"]
    shown = await seen.graphql(SHOW)
    assert shown.data["connector"]["registryVersion"] == 3
    assert shown.data["connector"]["config"]["api_key"] == "********"
    assert_sealed(tmp_path, seen)


async def test_a_new_value_in_the_same_change_is_a_choice(
    tmp_path: Path, server: tuple[Seen, ControlPlane]
) -> None:
    """The sealed value is replaced, not exposed: a PUT whose config gives the key a new
    value (or removes it) with the spec that declassifies it is carried out."""
    seen, control = server
    status, body = await seen.rest(
        "PUT",
        "/bookstore",
        {"spec": bookstore_spec_text(**PLAIN), "config": {"api_key": "plain-by-choice"}},
    )
    assert status == 200, body
    assert body["connector"]["registry_version"] == 2
    assert control.stored["bookstore"].secret_keys == set()
    shown = await seen.graphql(SHOW)
    assert shown.data["connector"]["config"]["api_key"] == "plain-by-choice"
    assert_sealed(tmp_path, seen)
