"""Fixture tests: record once against a real server, replay offline and check expectations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from connectql.builder.fixtures import record, replay
from connectql.demo.runner import BOOKSTORE_SPEC
from connectql.demo.upstream import create_bookstore_app
from connectql.spec.loader import load_spec
from connectql.testing import FakeUpstream
from tests.processes import free_port

KEY = "fixture-key-0123456789"

TESTS = [
    {
        "name": "one book",
        "operation": "book",
        "args": {"id": "7"},
        "fixture": "fixtures/book-7.json",
        "expect": {
            "requests": 1,
            "first_request": {"method": "GET", "path": "/books/7"},
            "results": 1,
        },
    },
    {
        "name": "books to the last page",
        "operation": "books",
        "first": 1000,
        "fixture": "fixtures/books.json",
        "expect": {"requests": 3, "results": 120},
    },
    {
        "name": "authors in one batch, a missing key is null",
        "operation": "author",
        "keys": ["3", "1", "999"],
        "fixture": "fixtures/authors.json",
        "expect": {
            "requests": 1,
            "first_request": {"path": "/authors", "query": {"ids": "3,1,999"}},
        },
    },
]


def spec_with_tests(directory: Path) -> Path:
    raw = yaml.safe_load(BOOKSTORE_SPEC.read_text())
    raw["operations"]["books"]["pagination"]["page_size"] = 50
    raw["tests"] = TESTS
    path = directory / "bookstore.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


async def test_record_then_replay_offline(tmp_path: Path) -> None:
    path = spec_with_tests(tmp_path)
    spec = load_spec(path)
    async with FakeUpstream(create_bookstore_app(KEY, n_books=120)) as upstream:
        recording = await record(spec, tmp_path, {"base_url": upstream.url, "api_key": KEY})
    assert recording.failures == []
    assert len(recording.files) == 3
    for file in recording.files:
        text = Path(file).read_text()
        assert KEY not in text  # the key never reaches a fixture
        assert "127.0.0.1" not in text  # nor the recorded base URL
    books = json.loads((tmp_path / "fixtures/books.json").read_text())
    assert len(books["exchanges"]) == 3
    assert books["exchanges"][0]["request"]["headers"]["X-Api-Key"] == "[redacted]"

    outcomes = await replay(spec, tmp_path)  # the upstream is gone: offline
    assert [(o.test, o.passed, o.problems) for o in outcomes] == [
        ("one book", True, []),
        ("books to the last page", True, []),
        ("authors in one batch, a missing key is null", True, []),
    ]


async def test_replay_reports_what_differs(tmp_path: Path) -> None:
    path = spec_with_tests(tmp_path)
    spec = load_spec(path)
    async with FakeUpstream(create_bookstore_app(KEY, n_books=120)) as upstream:
        await record(spec, tmp_path, {"base_url": upstream.url, "api_key": KEY})
    raw = yaml.safe_load(path.read_text())
    raw["tests"][0]["expect"] = {"requests": 2, "first_request": {"path": "/books/8"}}
    raw["tests"][1]["expect"] = {"results": 100}
    raw["types"]["Book"]["fields"]["isbn"] = "String!"  # not in any recorded book
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    outcomes = await replay(load_spec(path), tmp_path)
    first, second, _ = outcomes
    assert not first.passed
    assert "expected 2 requests, made 1" in first.problems
    assert "first request: expected path /books/8, sent /books/7" in first.problems
    assert "result 0: isbn is null but String! is non-null" in first.problems
    assert "expected 100 results, got 120" in second.problems


def failing_second_page() -> web.Application:
    """The bookstore, whose second page of books is a 500 (not retried)."""

    @web.middleware
    async def fail(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path == "/books" and request.query.get("page") == "2":
            return web.json_response({"message": "boom"}, status=500)
        response: web.StreamResponse = await handler(request)
        return response

    app = create_bookstore_app(KEY, n_books=120)
    app.middlewares.append(fail)
    return app


async def test_a_failed_call_keeps_every_old_fixture(tmp_path: Path) -> None:
    spec = load_spec(spec_with_tests(tmp_path))
    async with FakeUpstream(create_bookstore_app(KEY, n_books=120)) as upstream:
        good = await record(spec, tmp_path, {"base_url": upstream.url, "api_key": KEY})
    before = {file: Path(file).read_bytes() for file in good.files}
    wrong_key = "wrong-key-0123456789"
    async with FakeUpstream(create_bookstore_app(KEY, n_books=120)) as upstream:
        refused = await record(spec, tmp_path, {"base_url": upstream.url, "api_key": wrong_key})
    async with FakeUpstream(failing_second_page()) as upstream:
        midway = await record(spec, tmp_path, {"base_url": upstream.url, "api_key": KEY})
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens: connection refused
    unreachable = await record(spec, tmp_path, {"base_url": closed, "api_key": KEY})

    assert {file: Path(file).read_bytes() for file in good.files} == before
    assert refused.files == midway.files == unreachable.files == []
    assert len(refused.failures) == 3
    assert refused.failures[0] == (
        "one book: UNAUTHENTICATED: the upstream refused the credentials (HTTP 401)"
    )
    assert not any(wrong_key in failure for failure in refused.failures)
    assert midway.failures == [
        "books to the last page: UPSTREAM_ERROR: the upstream answered HTTP 500"
    ]
    assert unreachable.failures[0].startswith("one book: UPSTREAM_UNAVAILABLE")


async def test_a_missing_fixture_says_how_to_make_it(tmp_path: Path) -> None:
    spec = load_spec(spec_with_tests(tmp_path))
    outcomes = await replay(spec, tmp_path)
    assert all(not o.passed for o in outcomes)
    assert "record it with --record" in outcomes[0].problems[0]
