"""A generated query corpus over the demo schema (with federation's `_entities` union), three
prebuilt connectors' schemas (GitHub, Slack, OpenAI) and a feed whose results are a union, run
against our served app with `CONNECTQL_EXECUTOR=differential`: the compiled executor and
graphql-core answer every query on the same request context and must agree on data and
errors. The corpus runs while the upstream is healthy and while it fails as real APIs do (500,
429 with Retry-After, a missing field, a value of the wrong type, a null list item, a reset
connection, a timeout, a refused connection), so errors, their paths, null propagation and
partial data are compared too.

Every answer must be GraphQL JSON whose errors point at nulls; no error may be
EXECUTOR_MISMATCH (nor be logged on `connectql.execution`) nor INTERNAL. The corpus must be
meaningful: most healthy queries return data, and every failing run returns errors, the
fault's own among them, and (but for a refused connection or timeouts) partial data.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import zlib
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import yaml
from aiohttp import web
from graphql import GraphQLSchema, build_client_schema, get_introspection_query

from connectql.connectors.builtin import builtin_spec
from connectql.demo.runner import BOOKSTORE_SPEC
from connectql.demo.upstream import create_bookstore_app
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec_text
from connectql.testing import FakeUpstream, Fault
from connectql.testing.fakes.github import GitHubState, create_github_app
from connectql.testing.fakes.openai import DEFAULT_API_KEY, OpenAIState, create_openai_app
from connectql.testing.fakes.slack import BOT_TOKEN, SlackState, create_slack_app
from tests.fakes.feed import FEED_SPEC, create_feed_app
from tests.graph.query_corpus import CorpusQuery, generate_queries
from tests.support import ADMIN_KEY, DEMO_KEY, serving

pytestmark = pytest.mark.asyncio(loop_scope="module")

HEALTHY_QUERIES = 48
"""Queries per schema while the upstream is healthy; each failing run replays the first
FAULTY_QUERIES of them."""
FAULTY_QUERIES = 16
SLOW_QUERIES = 8
"""Queries of the timeout run: each failing call there costs IMPATIENT_TIMEOUT."""
CONCURRENCY = 8
UPSTREAM_TIMEOUT = 10.0
"""Seconds an upstream call may take: plenty for a fake on a loaded machine. No retries, so
failing runs take as long as healthy ones."""
IMPATIENT_TIMEOUT = 1.0
"""The upstream timeout of the app the timeout run uses (its fault waits longer)."""
QUERY_BOUND = 30.0
"""Seconds one query may take on a loaded machine."""
GITHUB_TOKEN = "ghp_corpus0123456789abcdefghijklmnopqrs"
FIRST = [1, 2, 3, 3, 5, 20, 0, -1]
QUERY_HEADER = "x-corpus-query"
MISMATCH = "EXECUTOR_MISMATCH"


def _tuned(raw: dict[str, Any], timeout: float) -> str:
    """A spec with one attempt per call, no breaker, no client-side rate limit, no cache and
    `timeout`: faults become errors at once and the same call fails the same way every time.
    Its calls carry the corpus query's number, so which calls fail is decided per query."""
    source = raw["source"]
    source["forward_headers"] = [*source.get("forward_headers", []), QUERY_HEADER]
    source["headers"] = {
        **source.get("headers", {}),
        QUERY_HEADER: f"{{request.headers.{QUERY_HEADER}}}",
    }
    source["retry"] = {"max_attempts": 1, "max_retry_after": 0}
    source["circuit_breaker"] = None
    source["timeout"] = {"total": timeout, "connect": timeout}
    source.pop("rate_limit", None)
    source.pop("quota_headers", None)
    source.pop("cache", None)  # a 304 would bring back the healthy answer
    return yaml.safe_dump(raw, sort_keys=False)


# --- the schemas --------------------------------------------------------------------------


@dataclass
class Subject:
    """One served schema: our app in front of a fake upstream, and its corpus."""

    name: str
    url: str
    impatient_url: str
    """The same app with a short upstream timeout, for the timeout run."""
    upstream: FakeUpstream
    queries: list[CorpusQuery] = field(default_factory=list)


@dataclass(frozen=True)
class Setup:
    """How to serve a schema: its fake, its connector, the roots and argument values."""

    app: Callable[[], web.Application]
    spec: Callable[[], dict[str, Any]]
    config: Callable[[FakeUpstream], dict[str, Any]]
    """The connector's config for a started fake."""
    roots: Sequence[str]
    values: Callable[[], dict[str, list[Any]]]
    federation: bool = False


def _bookstore_spec() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(BOOKSTORE_SPEC.read_text())
    raw["types"]["Book"]["lookup"] = "book"  # `_entities` resolves books and authors
    raw["types"]["Author"]["lookup"] = "author"
    return raw


def _bookstore_values() -> dict[str, list[Any]]:
    book = {"__typename": "BookstoreBook", "id": "7"}
    author = {"__typename": "BookstoreAuthor", "id": "3"}
    missing = {"__typename": "BookstoreBook", "id": "999"}
    return {
        "id": ["1", "7", "120", "240", "999"],
        "authorId": ["3", "3", "40", "77"],
        "first": FIRST,
        "after": ["x", None, None, "bm90LWEtY3Vyc29y"],
        "representations": [[book, author], [author, missing, book], [book]],
    }


def _github_values() -> dict[str, list[Any]]:
    state = GitHubState.seeded()
    return {
        "owner": ["octo-org"] * 5 + ["nobody-here"],
        "repo": ["hello"] * 5 + ["missing"],
        "name": ["hello", "project-003", "project-007", "missing"],
        "number": [3, 5, 10, 20, 21, 999],
        "username": ["ada", "grace", "octo-org", "nobody-here"],
        "login": ["ada", "grace", "octo-org", "nobody-here"],
        "org": ["octo-org", "octo-org", "ghost-org"],
        "query": ["fake", "bug", "language:Go"],
        "ref": [state.commits["octo-org/hello"][0]["sha"], "deadbeef"],
        "sha": ["main", state.commits["octo-org/hello"][3]["sha"]],
        "labels": [["bug"], ["docs"], []],
        "first": FIRST,
        "after": ["x", None, None, None],
    }


def _slack_values() -> dict[str, list[Any]]:
    state = SlackState.seeded()
    channels = [c["id"] for c in state.channels]
    users = [u["id"] for u in state.users]
    return {
        "channel": [channels[0], channels[0], channels[1], channels[11], "CNOSUCHONE"],
        "id": [users[0], users[5], users[-1], "UNOSUCHONE"],
        "types": ["public_channel", "public_channel,private_channel", "im"],
        "first": FIRST,
        "after": ["x", None, None],
    }


def _openai_values() -> dict[str, list[Any]]:
    return {
        "id": ["gpt-4o-mini", "text-embedding-3-small", "no-such-model"],
        "text": ["hello", "the same text", ""],
        "model": ["text-embedding-3-small", "text-embedding-3-large", "gpt-no-such"],
    }


def _feed_values() -> dict[str, list[Any]]:
    return {
        "id": ["1", "3", "30", "59", "60", "999"],
        "personId": ["1", "2", "6", "77"],
        "first": FIRST,
        "after": ["x", None, None, None],
    }


def _builtin(name: str) -> Callable[[], dict[str, Any]]:
    return lambda: yaml.safe_load(builtin_spec(name).read_text())  # type: ignore[no-any-return]


SETUPS = {
    "bookstore": Setup(
        app=lambda: create_bookstore_app(DEMO_KEY),
        spec=_bookstore_spec,
        config=lambda fake: {"base_url": fake.url, "api_key": DEMO_KEY},
        roots=["bookstore", "bookstore", "bookstore", "_entities"],
        values=_bookstore_values,
        federation=True,
    ),
    "feed": Setup(
        app=create_feed_app,
        spec=lambda: yaml.safe_load(FEED_SPEC.read_text()),  # type: ignore[no-any-return]
        config=lambda fake: {"base_url": fake.url},
        roots=["feed"],
        values=_feed_values,
    ),
    "github": Setup(
        app=lambda: create_github_app(
            GitHubState.seeded(
                tokens={GITHUB_TOKEN}, search_rate_limit=10**6, search_remaining=10**6
            )
        ),
        spec=_builtin("github"),
        config=lambda fake: {"base_url": fake.url, "token": GITHUB_TOKEN},
        roots=["github"],
        values=_github_values,
    ),
    "slack": Setup(
        app=lambda: create_slack_app(SlackState.seeded()),
        spec=_builtin("slack"),
        config=lambda fake: {"base_url": f"{fake.url}/api", "token": BOT_TOKEN},
        roots=["slack"],
        values=_slack_values,
    ),
    "openai": Setup(
        app=lambda: create_openai_app(OpenAIState()),
        spec=_builtin("openai"),
        config=lambda fake: {"base_url": f"{fake.url}/v1", "api_key": DEFAULT_API_KEY},
        roots=["openai"],
        values=_openai_values,
    ),
}


@pytest.fixture(scope="module")
def differential() -> Iterator[None]:
    """Both executors answer every query and compare (the suite may set this already)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONNECTQL_EXECUTOR", "differential")
        yield


@pytest.fixture
def mismatch_logs() -> Iterator[list[logging.LogRecord]]:
    """What the differential executor logs at ERROR during a test: a mismatch's diff."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("connectql.execution")
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=sorted(SETUPS))
async def subject(request: pytest.FixtureRequest, differential: None) -> AsyncIterator[Subject]:
    """One served schema (the app started once per module) and its generated corpus."""
    setup = SETUPS[request.param]

    def runtime(upstream: FakeUpstream, timeout: float) -> Runtime:
        spec = load_spec_text(_tuned(setup.spec(), timeout), f"{request.param}.yaml")
        served = Runtime(federation=setup.federation)
        served.add(spec, setup.config(upstream))
        return served

    async with (
        FakeUpstream(setup.app()) as upstream,
        serving(runtime(upstream, UPSTREAM_TIMEOUT)) as url,
        serving(runtime(upstream, IMPATIENT_TIMEOUT)) as impatient_url,
    ):
        served = Subject(request.param, url, impatient_url, upstream)
        schema = await _served_schema(url)
        seed = zlib.crc32(request.param.encode())
        served.queries = generate_queries(
            schema, setup.roots, setup.values(), count=HEALTHY_QUERIES, seed=seed
        )
        yield served


def _client() -> aiohttp.ClientSession:
    """A session for one burst of queries (an idle kept-alive connection may be closing)."""
    return aiohttp.ClientSession(headers={"Authorization": f"Bearer {ADMIN_KEY}"})


async def _served_schema(url: str) -> GraphQLSchema:
    query = {"query": get_introspection_query()}
    async with _client() as http, http.post(f"{url}/graphql", json=query) as answer:
        result = await answer.json()
    return build_client_schema(result["data"])


# --- the faults ---------------------------------------------------------------------------


def _some(mode: str, upstream: FakeUpstream) -> Callable[[web.Request], bool]:
    """Whether a request fails: SHARE percent of the calls (query number, method, path and
    body), the same ones every run whatever the order the calls come in."""

    def match(request: web.Request) -> bool:
        body = upstream.requests[-1].body  # the recorder has just stored this request
        query = request.headers.get(QUERY_HEADER)
        call = f"{mode} {query} {request.method} {request.raw_path} ".encode() + body
        return zlib.crc32(call) % 100 < SHARE

    return match


def _pick(value: Any, salt: str, modulo: int) -> int:
    return zlib.crc32((salt + json.dumps(value, sort_keys=True)).encode()) % modulo


def _records(body: Any) -> Iterator[dict[str, Any]]:
    """Every object in an answer, nested ones too."""
    if isinstance(body, dict):
        yield body
        for value in body.values():
            yield from _records(value)
    elif isinstance(body, list):
        for item in body:
            yield from _records(item)


def _some_keys(record: dict[str, Any], salt: str) -> list[str]:
    """About a third of a record's scalar fields (Slack's `ok` flag kept)."""
    return [
        key
        for key, value in record.items()
        if not isinstance(value, dict | list) and key != "ok" and _pick([key, record], salt, 3) == 0
    ]


def missing_field(body: Any) -> Any:
    """Records lose some fields (non-null ones too)."""
    for record in list(_records(body)):
        for key in _some_keys(record, "missing"):
            del record[key]
    return body


def wrong_type(body: Any) -> Any:
    """Records get values of the wrong type: a string for a number or a boolean, an object
    for a string."""
    for record in list(_records(body)):
        for key in _some_keys(record, "wrong"):
            wrong = {"not": "a string"} if isinstance(record[key], str) else "not a number"
            record[key] = wrong
    return body


def null_item(body: Any) -> Any:
    """Every list gets a null among its first items (so a short page holds it too)."""

    def walk(value: Any) -> None:
        children = value.values() if isinstance(value, dict) else value
        for child in list(children) if isinstance(value, dict | list) else ():
            walk(child)
        if isinstance(value, list) and value:
            value.insert(_pick(value, "at", min(len(value), 2)), None)

    walk(body)
    return body


FAULTS: dict[str, Callable[[Callable[[web.Request], bool]], Fault]] = {
    "http-500": lambda match: Fault(
        status=500,
        body=b'{"error": {"message": "internal upstream failure"}}',
        headers={"Content-Type": "application/json"},
        match=match,
    ),
    "http-429-retry-after": lambda match: Fault(
        status=429,
        body=b'{"error": {"message": "slow down"}}',
        headers={"Content-Type": "application/json", "Retry-After": "7"},
        match=match,
    ),
    "missing-field": lambda match: Fault(rewrite=missing_field, match=match),
    "wrong-type": lambda match: Fault(rewrite=wrong_type, match=match),
    "null-item": lambda match: Fault(rewrite=null_item, match=match),
    "connection-reset": lambda match: Fault(reset=True, match=match),
    "timeout": lambda match: Fault(delay=IMPATIENT_TIMEOUT + 0.5, match=match),
}
SHARE = 50
"""Percent of upstream calls that fail: a query's calls fail apart, so some parts of an
answer fail while others succeed."""


@contextlib.asynccontextmanager
async def failing(subject: Subject, mode: str) -> AsyncIterator[None]:
    if mode == "connection-refused":
        await subject.upstream.stop()
        try:
            yield
        finally:
            await subject.upstream.start()  # on the same port
        return
    subject.upstream.faults.add(FAULTS[mode](_some(mode, subject.upstream)), times=None)
    try:
        yield
    finally:
        subject.upstream.faults.clear()


# --- running and checking -----------------------------------------------------------------


async def _run(url: str, queries: Sequence[CorpusQuery]) -> list[dict[str, Any]]:
    """Each query's answer, CONCURRENCY at a time."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(http: aiohttp.ClientSession, number: int, query: CorpusQuery) -> dict[str, Any]:
        body = {"query": query.document, "variables": query.variables}
        headers = {QUERY_HEADER: str(number)}
        async with (
            gate,
            asyncio.timeout(QUERY_BOUND),
            http.post(f"{url}/graphql", json=body, headers=headers) as answer,
        ):
            raw = await answer.read()
            assert answer.status == 200, (query, answer.status, raw[:500])
        return _graphql_json(query, raw)

    async with _client() as http:
        return list(await asyncio.gather(*(one(http, n, q) for n, q in enumerate(queries))))


def _graphql_json(query: CorpusQuery, raw: bytes) -> dict[str, Any]:
    """The answer, checked as a GraphQL response: data and errors, each error a field error
    with a message, locations and a path that leads to a null (a mismatch between the
    executors is reported by the test, with every other one of its run)."""
    result = json.loads(raw)
    assert isinstance(result, dict), raw[:500]
    assert "data" in result, (query, result)
    assert set(result) <= {"data", "errors", "extensions"}, result
    assert result["data"] is None or isinstance(result["data"], dict), result
    errors = result.get("errors")
    assert errors is None or (isinstance(errors, list) and errors), result
    for error in errors or ():
        code = (error.get("extensions") or {}).get("code")
        if code == MISMATCH:
            continue
        assert code != "INTERNAL", (query, error)
        assert set(error) <= {"message", "locations", "path", "extensions"}, error
        assert isinstance(error["message"], str), error
        assert error["message"], error
        assert all(
            isinstance(p["line"], int) and isinstance(p["column"], int) for p in error["locations"]
        ), error
        assert all(isinstance(part, str | int) for part in error["path"]), error
        assert _leads_to_null(result["data"], error["path"]), (query, error, result["data"])
    return result


def _mismatches(queries: Sequence[CorpusQuery], results: list[dict[str, Any]]) -> list[str]:
    """The queries whose answers carry EXECUTOR_MISMATCH, with what differed."""
    return [
        f"{e['message']}\n  query: {q.document}\n  variables: {q.variables}"
        for q, r in zip(queries, results, strict=True)
        for e in r.get("errors") or ()
        if (e.get("extensions") or {}).get("code") == MISMATCH
    ]


def _leads_to_null(data: Any, path: list[str | int]) -> bool:
    """An error's field is null in the data, itself or through a parent (null propagation)."""
    for part in path:
        if data is None:
            return True
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return False  # the path leads nowhere in the data
    return data is None


def _codes(result: dict[str, Any]) -> set[str | None]:
    return {(e.get("extensions") or {}).get("code") for e in result.get("errors") or ()}


def _has_content(value: Any) -> bool:
    """Data beyond nulls, empty lists and `__typename`: the upstream's answer reached it."""
    if isinstance(value, dict):
        return any(_has_content(v) for k, v in value.items() if k != "__typename")
    if isinstance(value, list):
        return any(_has_content(v) for v in value)
    return value is not None


@dataclass
class Tally:
    """Shares of a run's answers that had data, errors, both, or an error with `code`."""

    results: list[dict[str, Any]]

    def share(self, check: Callable[[dict[str, Any]], bool]) -> float:
        return sum(1 for r in self.results if check(r)) / len(self.results)

    @property
    def answered(self) -> float:
        return self.share(lambda r: _has_content(r["data"]))

    @property
    def errored(self) -> float:
        return self.share(lambda r: bool(r.get("errors")))

    @property
    def partial(self) -> float:
        return self.share(lambda r: bool(r.get("errors")) and _has_content(r["data"]))

    def coded(self, code: str) -> float:
        return self.share(lambda r: code in _codes(r))


async def _corpus(
    url: str, queries: Sequence[CorpusQuery], mismatch_logs: list[logging.LogRecord]
) -> Tally:
    """The answers to `queries`, which both executors gave alike."""
    results = await _run(url, queries)
    mismatches = _mismatches(queries, results)
    assert not mismatches, "\n".join(mismatches)
    assert [r.getMessage() for r in mismatch_logs] == []
    return Tally(results)


async def test_healthy_upstream(subject: Subject, mismatch_logs: list[logging.LogRecord]) -> None:
    tally = await _corpus(subject.url, subject.queries, mismatch_logs)
    assert tally.answered >= 0.7, tally.answered  # most queries reach real data


CODES = {
    "http-500": "UPSTREAM_ERROR",
    "http-429-retry-after": "RATE_LIMITED",
    "missing-field": "BAD_RESPONSE",
    "wrong-type": "BAD_RESPONSE",
    "null-item": "BAD_RESPONSE",
    "connection-reset": "UPSTREAM_UNAVAILABLE",
    "timeout": "UPSTREAM_TIMEOUT",
    "connection-refused": "UPSTREAM_UNAVAILABLE",
}
"""The error code each fault gives: the fault took effect."""


@pytest.mark.parametrize("mode", CODES)
async def test_failing_upstream(
    subject: Subject, mismatch_logs: list[logging.LogRecord], mode: str
) -> None:
    if mode == "timeout":
        url, queries = subject.impatient_url, subject.queries[:SLOW_QUERIES]
    else:
        url, queries = subject.url, subject.queries[:FAULTY_QUERIES]
    async with failing(subject, mode):
        tally = await _corpus(url, queries, mismatch_logs)
    assert tally.coded(CODES[mode]) > 0  # the fault took effect
    assert tally.errored >= 0.3, tally.errored
    # some parts of an answer failed, some not (a refused connection leaves nothing but
    # `__typename` and empty pages; on a loaded machine any call may time out)
    if mode not in ("connection-refused", "timeout"):
        assert tally.partial >= 0.1, tally.partial
