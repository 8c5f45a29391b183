"""Connectors managed while the server runs: create, update, roll back, configure, test."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
import yaml

from connectql.demo.upstream import create_bookstore_app
from connectql.testing import FakeUpstream, Fault
from tests.support import (
    DEMO_KEY,
    bookstore_spec_text,
    control_server,
    execute,
)

CREATE = """
mutation($spec: String!, $config: JSON) {
  createConnector(spec: $spec, config: $config) {
    __typename
    ... on ConnectorChanged { applied schemaVersion connector { name state registryVersion } }
    ... on SpecInvalid { errors { message line column path } }
  }
}
"""

UPDATE = """
mutation($spec: String!, $force: Boolean!) {
  updateConnector(name: "bookstore", spec: $spec, force: $force) {
    ... on ConnectorChanged {
      applied schemaVersion breakingChanges { type description } connector { registryVersion }
    }
  }
}
"""

BOOK = '{ bookstore { book(id: "7") { id title year } } }'


@pytest.fixture
async def bookstore() -> FakeUpstream:
    async with FakeUpstream(create_bookstore_app(DEMO_KEY)) as upstream:
        yield upstream


def config_for(upstream: FakeUpstream) -> dict[str, str]:
    return {"base_url": upstream.url, "api_key": DEMO_KEY}


async def test_create_then_query_at_once(tmp_path: Path, bookstore: FakeUpstream) -> None:
    async with control_server(tmp_path) as (url, _):
        before = await execute(url, "{ schemaVersion }")
        result = await execute(
            url, CREATE, {"spec": bookstore_spec_text(), "config": config_for(bookstore)}
        )
        assert result.errors is None, result.errors
        created = result.data["createConnector"]
        assert created["__typename"] == "ConnectorChanged"
        assert created["applied"] is True
        assert created["connector"] == {
            "name": "bookstore",
            "state": "RUNNING",
            "registryVersion": 1,
        }
        assert created["schemaVersion"] > before.data["schemaVersion"]
        answer = await execute(url, BOOK)
        assert answer.errors is None
        assert answer.data["bookstore"]["book"]["title"] == "Book 7"


async def test_a_broken_spec_is_returned_with_locations(tmp_path: Path) -> None:
    broken = bookstore_spec_text().replace("strategy: link_header", "strategy: links", 1)
    async with control_server(tmp_path) as (url, control):
        result = await execute(url, CREATE, {"spec": broken, "config": {}})
        assert result.errors is None
        invalid = result.data["createConnector"]
        assert invalid["__typename"] == "SpecInvalid"
        [error] = invalid["errors"]
        assert error["path"] == "operations.books.pagination.strategy"
        assert error["line"] is not None
        assert "'links' is not one of" in error["message"]
        assert control.stored == {}


async def test_breaking_update_is_refused_then_forced_then_rolled_back(
    tmp_path: Path, bookstore: FakeUpstream
) -> None:
    async with control_server(tmp_path) as (url, _):
        await execute(url, CREATE, {"spec": bookstore_spec_text(), "config": config_for(bookstore)})
        without_year = bookstore_spec_text(**{"types.Book.fields.year": None})

        refused = await execute(url, UPDATE, {"spec": without_year, "force": False})
        change = refused.data["updateConnector"]
        assert change["applied"] is False
        assert {
            "type": "FIELD_REMOVED",
            "description": "Field BookstoreBook.year was removed.",
        } in (change["breakingChanges"])
        assert change["connector"]["registryVersion"] == 1
        assert (await execute(url, BOOK)).data["bookstore"]["book"]["year"] == 1957

        forced = await execute(url, UPDATE, {"spec": without_year, "force": True})
        assert forced.data["updateConnector"]["applied"] is True
        assert forced.data["updateConnector"]["connector"]["registryVersion"] == 2
        gone = await execute(url, BOOK)
        assert "Cannot query field 'year'" in gone.errors[0]["message"]

        rolled = await execute(
            url,
            'mutation { rollbackConnector(name: "bookstore", version: 1, force: true) '
            "{ ... on ConnectorChanged { applied connector { registryVersion } } } }",
        )
        assert rolled.data["rollbackConnector"] == {
            "applied": True,
            "connector": {"registryVersion": 1},
        }
        assert (await execute(url, BOOK)).data["bookstore"]["book"]["year"] == 1957
        versions = await execute(url, '{ connector(name: "bookstore") { versions { version } } }')
        assert versions.data["connector"]["versions"] == [{"version": 1}, {"version": 2}]


async def test_a_query_in_flight_finishes_on_its_schema(
    tmp_path: Path, bookstore: FakeUpstream
) -> None:
    async with control_server(tmp_path) as (url, _):
        await execute(url, CREATE, {"spec": bookstore_spec_text(), "config": config_for(bookstore)})
        bookstore.faults.add(Fault(delay=1.0), times=1)
        slow = asyncio.create_task(execute(url, BOOK))
        await asyncio.sleep(0.3)  # the query has started and waits on the upstream
        without_year = bookstore_spec_text(**{"types.Book.fields.year": None})
        swapped = await execute(url, UPDATE, {"spec": without_year, "force": True})
        assert swapped.data["updateConnector"]["applied"] is True
        result = await slow
        assert result.errors is None
        assert result.data["bookstore"]["book"] == {"id": "7", "title": "Book 7", "year": 1957}


async def test_configure_start_stop_delete(tmp_path: Path, bookstore: FakeUpstream) -> None:
    async with control_server(tmp_path) as (url, control):
        created = await execute(
            url,
            "mutation($s: String!) { createConnector(spec: $s, start: false) "
            "{ ... on ConnectorChanged { applied connector { state } } } }",
            {"s": bookstore_spec_text()},
        )
        assert created.data["createConnector"]["connector"]["state"] == "STOPPED"
        refused = await execute(
            url, 'mutation { startConnector(name: "bookstore") { __typename } }'
        )
        assert refused.errors[0]["extensions"]["code"] == "CONFIG_INVALID"
        assert "'base_url' is required" in refused.errors[0]["message"]

        configured = await execute(
            url,
            'mutation($c: JSON!) { configureConnector(name: "bookstore", config: $c) '
            "{ ... on ConnectorChanged { applied } } }",
            {"c": config_for(bookstore)},
        )
        assert configured.data["configureConnector"]["applied"] is True
        started = await execute(
            url,
            'mutation { startConnector(name: "bookstore") '
            "{ ... on ConnectorChanged { connector { state health { state } } } } }",
        )
        assert started.data["startConnector"]["connector"]["state"] == "RUNNING"
        assert (await execute(url, BOOK)).errors is None

        stop = (
            'mutation($f: Boolean!) { stopConnector(name: "bookstore", force: $f) '
            "{ ... on ConnectorChanged { applied breakingChanges { type } } } }"
        )
        refused_stop = await execute(url, stop, {"f": False})
        assert refused_stop.data["stopConnector"]["applied"] is False
        assert refused_stop.data["stopConnector"]["breakingChanges"]
        stopped = await execute(url, stop, {"f": True})
        assert stopped.data["stopConnector"]["applied"] is True
        assert "Cannot query field 'bookstore'" in (await execute(url, BOOK)).errors[0]["message"]
        status = await execute(url, '{ connector(name: "bookstore") { state health { state } } }')
        assert status.data["connector"] == {"state": "STOPPED", "health": {"state": "STOPPED"}}

        deleted = await execute(
            url,
            'mutation { deleteConnector(name: "bookstore", force: true) '
            "{ ... on ConnectorChanged { applied connector { name } } } }",
        )
        assert deleted.data["deleteConnector"] == {"applied": True, "connector": None}
        assert (await execute(url, "{ connectors { name } }")).data["connectors"] == []
        assert control.stored == {}


async def test_errors_name_what_is_wrong(tmp_path: Path, bookstore: FakeUpstream) -> None:
    async with control_server(tmp_path) as (url, _):
        missing = await execute(url, 'mutation { startConnector(name: "nope") { __typename } }')
        assert missing.errors[0]["extensions"]["code"] == "NOT_FOUND"
        spec, config = bookstore_spec_text(), config_for(bookstore)
        await execute(url, CREATE, {"spec": spec, "config": config})
        again = await execute(url, CREATE, {"spec": spec, "config": config})
        assert again.errors[0]["extensions"]["code"] == "CONFLICT"
        bad_key = await execute(
            url, CREATE, {"spec": spec.replace("bookstore", "books2", 1), "config": {"nope": 1}}
        )
        assert "unknown config key(s) nope" in bad_key.errors[0]["message"]


async def test_test_connector_returns_data_and_a_redacted_trace(
    tmp_path: Path, bookstore: FakeUpstream
) -> None:
    async with control_server(tmp_path) as (url, _):
        await execute(url, CREATE, {"spec": bookstore_spec_text(), "config": config_for(bookstore)})
        bookstore.faults.add(Fault(status=503), times=1)
        result = await execute(
            url,
            'mutation { testConnector(name: "bookstore", operation: "book", args: {id: "3"}) '
            "{ ok data error trace { method urlTemplate status outcome ms } } }",
        )
        tested = result.data["testConnector"]
        assert tested["ok"] is True
        assert tested["data"]["title"] == "Book 3"
        steps = tested["trace"]
        assert [(s["method"], s["status"], s["outcome"]) for s in steps] == [
            ("GET", 503, "HTTP 503"),
            ("GET", 200, "ok"),
        ]
        assert steps[0]["urlTemplate"] == f"{bookstore.url}/books/{{args.id}}"
        assert DEMO_KEY not in str(result.data)
        failing = await execute(
            url,
            'mutation { testConnector(name: "bookstore", operation: "book", args: {id: "x"}) '
            "{ ok data error } }",
        )
        assert failing.data["testConnector"]["ok"] is True  # 404 maps to null in the spec
        assert failing.data["testConnector"]["data"] is None


async def test_secrets_never_leave_the_server(
    tmp_path: Path, bookstore: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = "sk-live-never-show-me-0123456789"
    raw = bookstore_spec_text(**{"config.token": {"secret": True}})
    async with control_server(tmp_path) as (url, _):
        seen = [await execute(url, CREATE, {"spec": raw, "config": config_for(bookstore)})]
        seen.append(
            await execute(
                url,
                'mutation($c: JSON!) { configureConnector(name: "bookstore", config: $c) '
                "{ ... on ConnectorChanged { applied connector { config spec } } } }",
                {"c": {"token": token}},
            )
        )
        seen.append(await execute(url, '{ connector(name: "bookstore") { config spec sdl } }'))
        seen.append(await execute(url, BOOK))
        assert seen[2].data["connector"]["config"]["token"] == "********"
    texts = [str(r.data) + str(r.errors) for r in seen]
    # every log line of the process except the gql client's own echo of what it sends
    texts += [r.getMessage() for r in caplog.records if not r.name.startswith("gql")]
    assert [t for t in texts if token in t] == []
    for file in tmp_path.iterdir():
        assert token.encode() not in file.read_bytes(), file.name
        assert DEMO_KEY.encode() not in file.read_bytes(), file.name  # declared secret: sealed


async def test_a_large_spec_is_checked_without_stalling_other_clients(tmp_path: Path) -> None:
    """Parsing a spec of a few hundred KB takes about a second: it runs off the event loop,
    so another client's query is answered while the check is still going on."""
    raw = yaml.safe_load(bookstore_spec_text())
    for i in range(1500):
        raw["types"][f"Extra{i}"] = {"fields": {f"f{j}": "String" for j in range(12)}}
    large = yaml.safe_dump(raw)
    finished: list[str] = []

    async def check() -> None:
        result = await execute(url, VALIDATE_LARGE, {"s": large})
        assert result.data == {"validateSpec": {"valid": True}}, result.errors
        finished.append("validate")

    async def query() -> None:
        async with asyncio.timeout(30):
            while not finished and len(answered) < 3:
                result = await execute(url, "{ schemaVersion }")
                assert result.errors is None
                answered.append(1)
        finished.append("query")

    answered: list[int] = []
    async with control_server(tmp_path) as (url, _):
        validation = asyncio.create_task(check())
        await asyncio.sleep(0.05)  # the check has started
        await asyncio.gather(validation, query())
    assert finished[0] == "query", finished  # answered while the large spec was being parsed


VALIDATE_LARGE = "mutation($s: String!) { validateSpec(spec: $s) { valid } }"
