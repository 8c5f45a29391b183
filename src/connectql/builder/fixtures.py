"""Offline fixture tests: the `tests:` section of a spec, recorded once, replayed forever.

`record` calls the real API (any base URL) for every test and writes what was exchanged,
with credentials and secret values redacted; if a call fails, it writes nothing, so a bad
token or an outage never replaces good fixtures. `replay` serves those exchanges from a
local server and checks each test's expectations: request count, first request, result
count, and that results fit the declared types. Pagination stops and batch order/missing
keys are therefore checked from fixtures, not by crawling a live API.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from aiohttp import web

from connectql.connectors.connector import Connector
from connectql.connectors.http import HttpRequest, HttpResponse
from connectql.errors import ConfigError, ConnectorError
from connectql.spec.models import ConnectorSpec, EnumType, ObjectType, SpecTest, UnionType
from connectql.spec.paths import parse_path
from connectql.spec.typeref import TypeRef, parse_type_ref
from connectql.testing import FakeUpstream

REDACTED = "[redacted]"
CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "x-auth-token"}
)


@dataclass
class Outcome:
    test: str
    passed: bool
    problems: list[str] = field(default_factory=list)
    requests: int = 0


# --- recording -----------------------------------------------------------------------------


@dataclass
class Recording:
    """What `record` did."""

    files: list[str] = field(default_factory=list)
    """The fixtures written: every test's, or none when one failed."""
    failures: list[str] = field(default_factory=list)
    """`test name: why` for each test whose call failed (secrets redacted)."""


async def record(spec: ConnectorSpec, spec_dir: Path, config: Mapping[str, Any]) -> Recording:
    """Run every test against the real API; write the fixtures only if every call succeeded.

    A call fails when the connector raises (a status the spec's `errors` do not map to null
    or empty, a connection or auth error), or when a key of a batch fails.
    """
    recording = Recording()
    documents: dict[Path, str] = {}
    for test in spec.tests:
        connector = Connector(spec, config)
        exchanges: list[dict[str, Any]] = []
        connector.recorder = lambda req, resp, box=exchanges, c=connector: box.append(
            _exchange(c, req, resp)
        )
        try:
            result = await _call(connector, test)
        except ConnectorError as exc:
            result = exc
        finally:
            await connector.stop()
        failed = next((r for r in _as_list(result) if isinstance(r, ConnectorError)), None)
        if failed is not None:
            recording.failures.append(connector.redact(f"{test.name}: {_why(failed)}"))
            continue
        document = {"connector": spec.name, "base_url": "{base_url}", "exchanges": exchanges}
        text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)
        documents[spec_dir / test.fixture] = connector.redact(text) + "\n"
    if recording.failures:
        return recording
    for path, text in documents.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        recording.files.append(str(path))
    return recording


def _as_list(result: Any) -> list[Any]:
    return result if isinstance(result, list) else [result]


def _why(error: ConnectorError) -> str:
    return f"{error.code}: {error.message}"  # messages name the status and hold no secret


def _exchange(connector: Connector, request: HttpRequest, response: HttpResponse) -> dict[str, Any]:
    base = connector.base_url
    url = request.url[len(base) :] if request.url.startswith(base) else request.url
    secrets = connector.secrets()
    params = [[k, REDACTED if v in secrets else v] for k, v in request.params]
    return {
        "request": {
            "method": request.method,
            "path": url.replace(base, "{base_url}"),
            "query": params,
            "headers": {
                k: REDACTED if k.lower() in CREDENTIAL_HEADERS or v in secrets else v
                for k, v in sorted(request.headers.items())
            },
            "body": connector.redact(request.body.decode("utf-8", "replace"))
            if request.body
            else None,
        },
        "response": {
            "status": response.status,
            "headers": {
                k: v.replace(base, "{base_url}")
                for k, v in sorted(response.headers.items())
                if k.lower() not in ("set-cookie", "date", "content-length", "transfer-encoding")
            },
            # redacted here too: within the call, the caller's forwarded values are known
            "body": connector.redact(response.body.decode("utf-8", "replace")).replace(
                base, "{base_url}"
            ),
        },
    }


# --- replaying ------------------------------------------------------------------------------


async def replay(spec: ConnectorSpec, spec_dir: Path) -> list[Outcome]:
    """Run every test offline against its recorded exchanges and check the expectations."""
    return [await _replay_one(spec, spec_dir, test) for test in spec.tests]


async def _replay_one(spec: ConnectorSpec, spec_dir: Path, test: SpecTest) -> Outcome:
    outcome = Outcome(test.name, True)
    path = spec_dir / test.fixture
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        exchanges = list(document["exchanges"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return Outcome(
            test.name, False, [f"fixture {test.fixture}: {exc} (record it with --record)"]
        )
    server = _ReplayServer(exchanges)
    async with FakeUpstream(server.app) as upstream:
        server.base = upstream.url
        connector = Connector(spec, _replay_config(spec, upstream.url))
        try:
            result = await _call(connector, test)
        except ConnectorError as exc:
            result = exc
        finally:
            await connector.stop()
        outcome.requests = upstream.count()
        received = list(upstream.requests)
    _check(spec, test, result, received, server, outcome)
    outcome.passed = not outcome.problems
    return outcome


class _ReplayServer:
    """Serves recorded exchanges: the first unused one with the same method, path and query."""

    def __init__(self, exchanges: list[dict[str, Any]]) -> None:
        self.exchanges = exchanges
        self.used: set[int] = set()
        self.unmatched: list[str] = []
        self.base = ""
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        query = sorted(request.query.items())
        for i, exchange in enumerate(self.exchanges):
            sent = exchange["request"]
            recorded = urlsplit(sent["path"].replace("{base_url}", ""))
            recorded_query = sorted(
                [tuple(p) for p in sent.get("query") or []] + parse_qsl(recorded.query)
            )
            if (
                i not in self.used
                and sent["method"] == request.method
                and recorded.path == request.path
                and _same_query(recorded_query, query)
            ):
                self.used.add(i)
                answer = exchange["response"]
                headers = {
                    k: v.replace("{base_url}", self.base) for k, v in answer["headers"].items()
                }
                body = answer["body"].replace("{base_url}", self.base)
                return web.Response(status=answer["status"], body=body.encode(), headers=headers)
        self.unmatched.append(f"{request.method} {request.path_qs}")
        return web.json_response({"error": "no recorded exchange for this request"}, status=599)


def _same_query(recorded: list[Any], received: list[tuple[str, str]]) -> bool:
    if len(recorded) != len(received):
        return False
    return all(
        r[0] == q[0] and (r[1] == REDACTED or r[1] == q[1])
        for r, q in zip(recorded, received, strict=True)
    )


def _replay_config(spec: ConnectorSpec, base_url: str) -> dict[str, Any]:
    """Config good enough to replay: the replay server's URL, and stand-ins for the rest."""
    values: dict[str, Any] = {}
    for name, key in spec.config.items():
        if key.default is not None and not key.secret:
            values[name] = key.default
        elif key.required or key.secret:
            values[name] = {
                "string": "replay-placeholder",
                "integer": 1,
                "number": 1.0,
                "boolean": True,
            }[key.type]
    values["base_url"] = base_url
    if "base_url" not in spec.config:
        raise ConfigError(
            f"connector {spec.name!r}: fixture tests need base_url to be a config key "
            '(source.base_url: "{config.base_url}")'
        )
    return values


# --- calling and checking ------------------------------------------------------------------------


async def _call(connector: Connector, test: SpecTest) -> Any:
    op = connector.spec.operations[test.operation]
    if test.keys is not None:
        return await connector.fetch_batch(test.operation, test.keys, test.args)
    paginator = connector.paginator(test.operation)
    if paginator is None:
        return await connector.execute(test.operation, test.args)
    page_size: int = getattr(op.pagination, "page_size", 30)
    return await connector.fetch_records(test.operation, test.args, test.first or page_size)


def _check(
    spec: ConnectorSpec,
    test: SpecTest,
    result: Any,
    received: list[Any],
    server: _ReplayServer,
    outcome: Outcome,
) -> None:
    expect = test.expect
    problems = outcome.problems
    if server.unmatched:
        problems.append(f"requests not in the fixture: {', '.join(server.unmatched)}")
    if isinstance(result, ConnectorError):
        problems.append(f"the call failed: {result.code}: {result.message}")
        return
    if expect.requests is not None and len(received) != expect.requests:
        problems.append(f"expected {expect.requests} requests, made {len(received)}")
    if expect.first_request is not None and received:
        first = received[0]
        want = expect.first_request
        if want.method and want.method != first.method:
            problems.append(f"first request: expected method {want.method}, sent {first.method}")
        if want.path and want.path != first.path:
            problems.append(f"first request: expected path {want.path}, sent {first.path}")
        if want.query is not None and dict(first.query) != want.query:
            problems.append(f"first request: expected query {want.query}, sent {dict(first.query)}")
    items = result if isinstance(result, list) else ([] if result is None else [result])
    if expect.results is not None and len(items) != expect.results:
        problems.append(f"expected {expect.results} results, got {len(items)}")
    if expect.match_types:
        op = spec.operations[test.operation]
        item_ref = _unwrap_list(parse_type_ref(op.response.type))
        for i, item in enumerate(items):
            if item is None and test.keys is not None:
                continue  # a key the upstream does not have: null, by design
            problems.extend(f"result {i}: {p}" for p in _fits(spec, item_ref, item, ""))


def _unwrap_list(ref: TypeRef) -> TypeRef:
    """`[Book!]!` → `Book!`: results are checked one by one."""
    return ref.of if ref.of is not None else ref


def _fits(spec: ConnectorSpec, ref: TypeRef, value: Any, where: str) -> list[str]:
    """Why `value` does not fit the GraphQL type `ref` (empty when it does)."""
    if value is None:
        return [f"{where or 'value'} is null but {ref} is non-null"] if ref.non_null else []
    if ref.of is not None:
        if not isinstance(value, list):
            return [f"{where or 'value'} should be a list"]
        return [p for i, v in enumerate(value) for p in _fits(spec, ref.of, v, f"{where}[{i}]")]
    name = ref.base
    scalar_checks: dict[str, Callable[[Any], bool]] = {
        "Int": lambda v: isinstance(v, int) and not isinstance(v, bool) and -(2**31) <= v < 2**31,
        "Long": lambda v: (
            (isinstance(v, int) and not isinstance(v, bool) and -(2**63) <= v < 2**63)
            or (isinstance(v, str) and v.lstrip("-").isdigit())
        ),
        "Float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "Boolean": lambda v: isinstance(v, bool),
        "String": lambda v: isinstance(v, str),
        "ID": lambda v: isinstance(v, (str, int)) and not isinstance(v, bool),
        "JSON": lambda v: True,
    }
    if name in scalar_checks:
        return (
            []
            if scalar_checks[name](value)
            else [f"{where or 'value'} is not a {name}: {value!r:.40}"]
        )
    declared = spec.types.get(name)
    if isinstance(declared, EnumType):
        allowed = set(
            declared.values.values() if isinstance(declared.values, dict) else declared.values
        )
        return [] if value in allowed else [f"{where} {value!r:.40} is not a value of {name}"]
    if isinstance(declared, ObjectType):
        if not isinstance(value, dict):
            return [f"{where or 'value'} should be an object ({name})"]
        problems = []
        for field_name, f in declared.fields.items():
            if f.resolve is not None:
                continue
            found = parse_path(f.from_ or field_name).get(value)
            problems += _fits(
                spec, parse_type_ref(f.type), found, f"{where}.{field_name}".lstrip(".")
            )
        return problems
    if isinstance(declared, UnionType):
        tag = parse_path(declared.discriminator.field).get(value)
        member = declared.discriminator.mapping.get(str(tag))
        if member is None:
            return [f"{where or 'value'}: {tag!r:.40} is not a known {name} member"]
        return _fits(spec, TypeRef(name=member, of=None, non_null=True), value, where)
    return []
