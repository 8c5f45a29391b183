"""A fake of the GitHub REST API (v3): an aiohttp app serving an in-memory `GitHubState`.

    state = GitHubState.seeded(tokens={"ghp_test"})
    async with FakeUpstream(create_github_app(state)) as github:
        ...  # GET {github.url}/repos/octo-org/hello/issues, "Authorization: Bearer ghp_test"

Each request goes through GitHub's checks in GitHub's order: the route (404), the
`X-GitHub-Api-Version` header (400), credentials (401), the primary then the secondary rate
limit (403), then the request against GitHub's own OpenAPI description (400/422, see
data/github-openapi-pruned.json). Answers are shaped by that description too: the fields a
test cares about come from the state, every other required field gets a placeholder.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self, TypeVar
from urllib.parse import quote

import jwt
import orjson
from aiohttp import web
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.validation.request.exceptions import (
    InvalidRequestBody,
    MissingRequiredParameter,
    ParameterValidationError,
)

SPEC_FILE = Path(__file__).parent / "data" / "github-openapi-pruned.json"
API_VERSION = "2022-11-28"
DOCS = "https://docs.github.com/rest"
RATE_LIMIT_DOCS = "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"
SECONDARY_LIMIT_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)
WEB = "https://github.com"
SEARCH_CAP = 1000
MAX_PER_PAGE = 100
JWT_MAX_LIFETIME = 600
JWT_CLOCK_SKEW = 30
"""Seconds an app JWT's `iat` may lie in the future (clocks drift)."""
WINDOWS = {"core": 3600, "search": 60}
"""Length in seconds of each rate-limit window."""
INSTALLATION_PERMISSIONS = {
    "contents": "read",
    "issues": "write",
    "metadata": "read",
    "pull_requests": "read",
}
SEED_TIME = datetime(2024, 1, 1, tzinfo=UTC)

T = TypeVar("T")


@functools.cache
def spec() -> dict[str, Any]:
    """The pruned OpenAPI description as a dict."""
    return json.loads(SPEC_FILE.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@functools.cache
def openapi() -> OpenAPI:
    """openapi-core over the pruned description: loaded once per process."""
    return OpenAPI.from_dict(spec())


def iso(moment: float | datetime) -> str:
    """ISO 8601 in UTC with a Z, as GitHub writes timestamps."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class IssuedToken:
    installation_id: int
    expires_at: float


@dataclass
class GitHubState:
    """What the fake serves, and the knobs tests turn.

    Records hold only what tests care about (see the add_* methods); answers add URLs and the
    rest of GitHub's fields. Repositories are keyed "owner/name"; issues and pulls by that and
    their number. A pull request is also an issue with the same number, as on GitHub.
    """

    tokens: set[str] = field(default_factory=set)
    """Valid personal access tokens."""
    viewer: str = "octocat"
    """Login behind the personal tokens: the author of what they create."""
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    repos: dict[str, dict[str, Any]] = field(default_factory=dict)
    issues: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    pulls: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    commits: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Newest first, as GitHub lists them."""
    comments: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)

    app_id: int | str | None = None
    app_slug: str = "fake-app"
    app_public_key_pem: str | bytes | None = None
    installations: dict[int, dict[str, str]] = field(
        default_factory=lambda: {1: dict(INSTALLATION_PERMISSIONS)}
    )
    """Installation id -> the permissions it was granted."""
    installation_token_ttl: int = 3600
    installation_tokens: dict[str, IssuedToken] = field(default_factory=dict)
    installation_tokens_issued: int = 0

    rate_limit: int = 5000
    remaining: int = 5000
    rate_limit_reset: float | None = None
    """When the core window ends (epoch seconds); None: an hour after the next request."""
    search_rate_limit: int = 30
    search_remaining: int = 30
    search_rate_limit_reset: float | None = None
    secondary_limit_next: int = 0
    """The next N authenticated requests hit the secondary rate limit."""
    secondary_retry_after: int = 60
    now: Callable[[], float] = time.time

    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1), init=False, repr=False)

    def add_user(
        self, login: str, *, kind: str = "User", name: str | None = None
    ) -> dict[str, Any]:
        """Add a user, or an organisation with kind="Organization"."""
        user = {"login": login, "id": next(self._ids), "type": kind, "name": name}
        self.users[login] = user
        return user

    def add_repo(
        self,
        owner: str,
        name: str,
        *,
        description: str | None = None,
        language: str | None = None,
        stargazers_count: int = 0,
        private: bool = False,
        created_at: str | None = None,
    ) -> dict[str, Any]:
        owner_user = self.users.get(owner) or self.add_user(owner)
        repo: dict[str, Any] = {
            "id": next(self._ids),
            "name": name,
            "full_name": f"{owner}/{name}",
            "private": private,
            "description": description,
            "stargazers_count": stargazers_count,
            "language": language,
            "owner": self.user_ref(owner_user["login"]),
            "created_at": created_at or iso(self.now()),
        }
        self.repos[repo["full_name"]] = repo
        return repo

    def add_issue(
        self,
        full_name: str,
        title: str,
        *,
        author: str,
        body: str | None = None,
        labels: Iterable[str] = (),
        state: str = "open",
        comments: int = 0,
        created_at: str | None = None,
        pull_request: bool = False,
        head: str | None = None,
        base: str = "main",
        merged: bool = False,
    ) -> dict[str, Any]:
        """Add an issue, or a pull request from branch `head` (default "feature-N") to `base`."""
        issues = self.issues.setdefault(full_name, {})
        number = max(issues, default=0) + 1
        created = created_at or iso(self.now())
        issue = {
            "id": next(self._ids),
            "number": number,
            "title": title,
            "body": body,
            "state": state,
            "labels": [{"name": label} for label in labels],
            "user": self.user_ref(author),
            "comments": comments,
            "created_at": created,
            "updated_at": created,
            "closed_at": created if state == "closed" else None,
        }
        issues[number] = issue
        if pull_request:
            self.pulls.setdefault(full_name, {})[number] = {
                "id": next(self._ids),
                "number": number,
                "head": {"ref": head or f"feature-{number}", "sha": _sha(f"{full_name}#{number}")},
                "base": {"ref": base, "sha": _sha(f"{full_name}@{base}")},
                "merged": merged,
            }
        return issue

    def add_comment(self, full_name: str, number: int, body: str, *, author: str) -> dict[str, Any]:
        """Comment on an issue (which must exist): its `comments` count goes up."""
        now = iso(self.now())
        comment = {
            "id": next(self._ids),
            "body": body,
            "user": self.user_ref(author),
            "created_at": now,
            "updated_at": now,
        }
        self.comments.setdefault((full_name, number), []).append(comment)
        issue = self.issues[full_name][number]
        issue["comments"] += 1
        issue["updated_at"] = now
        return comment

    def add_commit(
        self, full_name: str, message: str, *, author: str, date: str | None = None
    ) -> dict[str, Any]:
        history = self.commits.setdefault(full_name, [])
        commit = {
            "sha": _sha(f"{full_name}:{len(history)}:{message}"),
            "commit": {
                "message": message,
                "author": {
                    "name": author.title(),
                    "email": f"{author}@users.noreply.github.com",
                    "date": date or iso(self.now()),
                },
            },
            "author": self.user_ref(author),
            "parents": [{"sha": history[0]["sha"]}] if history else [],
        }
        history.insert(0, commit)
        return commit

    def user_ref(self, login: str) -> dict[str, Any]:
        """{login, id} of a known user (id 0 for strangers)."""
        user = self.users.get(login)
        return {"login": login, "id": user["id"] if user else 0}

    @classmethod
    def seeded(
        cls,
        *,
        n_repos: int = 250,
        n_issues: int = 120,
        n_authors: int = 10,
        n_commits: int = 40,
        **fields: Any,
    ) -> Self:
        """Deterministic data around the organisation "octo-org" and its repository "hello".

        - `n_authors` users (ada, grace, ... then user-N); the viewer is the first one.
        - `n_repos` repositories of octo-org, "hello" first then project-001...; every one
          mentions "fake" in its description, so searches for it match them all.
        - `n_issues` issues in octo-org/hello, one an hour from 2024-01-01: author cycles over
          the users; every 5th is a pull request and every 10th a merged one; multiples of 3
          are labelled "bug" and of 4 "docs"; every 7th and every 10th are closed; issue N
          has N % 4 comments.
        - `n_commits` commits in octo-org/hello, authors cycling over the users.
        """
        state = cls(**{"viewer": _author(0), **fields})
        authors = [state.add_user(_author(i), name=_author(i).title()) for i in range(n_authors)]
        state.add_user("octo-org", kind="Organization", name="Octo Org")
        languages = ("Python", "Go", "Rust", "TypeScript")
        for i in range(n_repos):
            state.add_repo(
                "octo-org",
                "hello" if i == 0 else f"project-{i:03}",
                description=f"A fake repository number {i}",
                language=languages[i % len(languages)],
                stargazers_count=(i * 37) % 500,
                created_at=iso(SEED_TIME + timedelta(days=i)),
            )
        for n in range(1, n_issues + 1):
            labels = [name for name, every in (("bug", 3), ("docs", 4)) if n % every == 0]
            state.add_issue(
                "octo-org/hello",
                f"Issue number {n}" if n % 5 else f"Pull request number {n}",
                author=authors[(n - 1) % n_authors]["login"],
                body=f"Body of {n}",
                labels=labels,
                state="closed" if n % 7 == 0 or n % 10 == 0 else "open",
                comments=n % 4,
                created_at=iso(SEED_TIME + timedelta(hours=n)),
                pull_request=n % 5 == 0,
                merged=n % 10 == 0,
            )
        for i in range(n_commits):
            state.add_commit(
                "octo-org/hello",
                f"Commit number {i}",
                author=authors[i % n_authors]["login"],
                date=iso(SEED_TIME + timedelta(hours=i)),
            )
        return state


def _author(i: int) -> str:
    names = (
        "ada",
        "grace",
        "linus",
        "guido",
        "barbara",
        "ken",
        "dennis",
        "margaret",
        "alan",
        "edsger",
    )
    return names[i] if i < len(names) else f"user-{i}"


def _sha(seed: str) -> str:
    return hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()


# --- Requests and answers -----------------------------------------------------------------


class ApiError(Exception):
    """An error answer: `{"message", "documentation_url", **extra}` with `http_status`."""

    def __init__(
        self,
        http_status: int,
        message: str,
        documentation_url: str = DOCS,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.reply = Reply(
            {"message": message, "documentation_url": documentation_url, **extra},
            http_status,
            headers or {},
        )


@dataclass
class Reply:
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    id: str
    documentation_url: str
    resource: str
    """Names what a body describes, in validation errors ("Issue")."""


@dataclass(frozen=True)
class Caller:
    login: str
    rate_limit_subject: str
    """Who the quota belongs to, as rate-limit messages name it ("user ID 7")."""


@dataclass
class Call:
    """One validated request, as endpoints see it."""

    request: web.Request
    state: GitHubState
    operation: Operation
    caller: Caller
    path: dict[str, Any]
    query: dict[str, Any]
    body: Any

    @property
    def api(self) -> str:
        """The fake's own base URL: links in answers lead back to it."""
        return str(self.request.url.origin())

    def repo(self) -> dict[str, Any]:
        repo = self.state.repos.get(f"{self.path['owner']}/{self.path['repo']}")
        if repo is None:
            raise self.not_found()
        return repo

    def not_found(self) -> ApiError:
        return ApiError(404, "Not Found", self.operation.documentation_url)


@dataclass
class SpecRequest:
    """A request as openapi-core sees it: sent to GitHub's host, with any body read as JSON."""

    method: str
    path: str
    parameters: RequestParameters
    body: bytes | None
    host_url: str = "https://api.github.com"
    content_type: str = "application/json"


Endpoint = Callable[[Call], Reply]


# --- Checks, in GitHub's order ------------------------------------------------------------


def _check_version(request: web.Request) -> None:
    version = request.headers.get("X-GitHub-Api-Version")
    if version is not None and version != API_VERSION:
        raise ApiError(
            400,
            f"Unsupported 'X-GitHub-Api-Version' header. Supported versions: {API_VERSION}.",
            "https://docs.github.com/rest/overview/api-versions",
        )


def _credentials(request: web.Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    value = value.strip()
    return value if scheme.lower() in ("bearer", "token") and value else None


def _authenticate(state: GitHubState, request: web.Request, operation: Operation) -> Caller:
    credentials = _credentials(request)
    if operation.id.startswith("apps/"):
        _verify_app_jwt(state, credentials)
        return Caller(state.app_slug, f"app ID {state.app_id}")
    if credentials in state.tokens:
        user = state.user_ref(state.viewer)
        return Caller(state.viewer, f"user ID {user['id']}")
    issued = state.installation_tokens.get(credentials or "")
    if issued is not None and state.now() < issued.expires_at:
        return Caller(f"{state.app_slug}[bot]", f"installation ID {issued.installation_id}")
    raise ApiError(401, "Bad credentials", status="401")


def _verify_app_jwt(state: GitHubState, token: str | None) -> None:
    """Check an app JWT as GitHub does: RS256 by the app key, issued by the app, <= 10 min."""
    undecodable = ApiError(401, "A JSON web token could not be decoded", status="401")
    if token is None or state.app_public_key_pem is None:
        raise undecodable
    try:
        claims = jwt.decode(
            token,
            state.app_public_key_pem,
            algorithms=["RS256"],
            # Times are checked below, on the state's clock.
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "require": ["iat", "exp", "iss"],
            },
        )
    except jwt.PyJWTError:
        raise undecodable from None
    if str(claims["iss"]) != str(state.app_id):
        raise undecodable
    issued, expires, now = claims["iat"], claims["exp"], state.now()
    if not isinstance(issued, int | float) or issued > now + JWT_CLOCK_SKEW:
        raise ApiError(
            401,
            "'Issued at' claim ('iat') must be an Integer representing the time that the "
            "assertion was issued",
            status="401",
        )
    if not isinstance(expires, int | float) or expires <= now:
        raise ApiError(
            401,
            "'Expiration time' claim ('exp') must be a numeric value representing the future "
            "time at which the assertion expires",
            status="401",
        )
    if expires - issued > JWT_MAX_LIFETIME:
        raise ApiError(
            401, "'Expiration time' claim ('exp') is too far in the future", status="401"
        )


def _quota_fields(resource: str) -> tuple[str, str, str]:
    """Names of the (limit, remaining, reset) state fields of a rate-limit resource."""
    prefix = "search_" if resource == "search" else ""
    return f"{prefix}rate_limit", f"{prefix}remaining", f"{prefix}rate_limit_reset"


def _quota(state: GitHubState, resource: str) -> tuple[int, int, int]:
    """(limit, remaining, reset) of `resource`; a window that has ended starts afresh."""
    limit_field, remaining_field, reset_field = _quota_fields(resource)
    now = state.now()
    reset = getattr(state, reset_field)
    if reset is None or now >= reset:
        if reset is not None:
            setattr(state, remaining_field, getattr(state, limit_field))
        reset = now + WINDOWS[resource]
        setattr(state, reset_field, reset)
    return getattr(state, limit_field), getattr(state, remaining_field), int(reset)


def _spend(state: GitHubState, resource: str) -> None:
    _, remaining_field, _ = _quota_fields(resource)
    setattr(state, remaining_field, max(0, getattr(state, remaining_field) - 1))


def _check_rate_limits(state: GitHubState, resource: str, caller: Caller) -> None:
    if _quota(state, resource)[1] <= 0:
        raise ApiError(
            403,
            f"API rate limit exceeded for {caller.rate_limit_subject}. If you reach out to "
            "GitHub Support for help, please include the request ID.",
            RATE_LIMIT_DOCS,
        )
    if state.secondary_limit_next > 0:
        state.secondary_limit_next -= 1
        raise ApiError(
            403,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you "
            "try again.",
            SECONDARY_LIMIT_DOCS,
            headers={"retry-after": str(state.secondary_retry_after)},
        )


async def _validate(
    request: web.Request, operation: Operation
) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """(path, query, body) of a request that matches the description, with defaults."""
    body = await request.read()
    spec_request = SpecRequest(
        request.method.lower(),
        request.path,
        RequestParameters(query=request.query, header=request.headers, cookie=request.cookies),
        body or None,
    )
    result = openapi().unmarshal_request(spec_request)
    for error in result.errors:
        raise _invalid(error, operation)  # the first: parameters come before the body
    return dict(result.parameters.path), dict(result.parameters.query), result.body


def _invalid(error: Exception, operation: Operation) -> ApiError:
    """The answer GitHub gives for what openapi-core found wrong."""
    docs = operation.documentation_url
    if isinstance(error, MissingRequiredParameter):
        missing = {"resource": operation.resource, "field": error.name, "code": "missing"}
        return ApiError(422, "Validation Failed", docs, errors=[missing])
    if isinstance(error, ParameterValidationError):
        cause = f": {error.__cause__}" if error.__cause__ else ""
        return ApiError(400, f"Invalid request.\n\n{error}{cause}", docs)
    if isinstance(error, InvalidRequestBody):
        schema_errors = getattr(error.__cause__, "schema_errors", ())
        return ApiError(
            422, "Validation Failed", docs, errors=_field_errors(schema_errors, operation)
        )
    return ApiError(400, "Problems parsing JSON", docs)


def _field_errors(schema_errors: Iterable[Any], operation: Operation) -> list[dict[str, Any]]:
    """GitHub's `errors` entries for jsonschema errors: missing_field or invalid per field."""
    errors: dict[str, dict[str, Any]] = {}
    for schema_error in schema_errors:
        prefix = "".join(f"{part}." for part in schema_error.path)
        if schema_error.validator == "required":
            for name in schema_error.validator_value:
                if name not in schema_error.instance:
                    errors[prefix + name] = {"code": "missing_field"}
        else:
            errors[prefix.rstrip(".") or "body"] = {
                "code": "invalid",
                "message": schema_error.message,
            }
    return [{"resource": operation.resource, "field": name, **e} for name, e in errors.items()]


# --- Answers ------------------------------------------------------------------------------


def _rate_limit_headers(state: GitHubState, resource: str) -> dict[str, str]:
    limit, remaining, reset = _quota(state, resource)
    return {
        "x-ratelimit-limit": str(limit),
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-used": str(limit - remaining),
        "x-ratelimit-reset": str(reset),
        "x-ratelimit-resource": resource,
    }


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    if if_none_match is None:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags


def _response(request: web.Request, reply: Reply) -> web.Response:
    """JSON, with a weak ETag on 200 GETs, or 304 when the client holds that version."""
    body = orjson.dumps(reply.body)
    headers = {"x-github-api-version-selected": API_VERSION, **reply.headers}
    if request.method == "GET" and reply.status == 200:
        headers["ETag"] = f'W/"{hashlib.sha256(body).hexdigest()}"'
        if _etag_matches(request.headers.get("If-None-Match"), headers["ETag"]):
            return web.Response(status=304, headers=headers)
    return web.Response(
        status=reply.status, body=body, headers=headers, content_type="application/json"
    )


def _serve(
    state: GitHubState, operation: Operation, endpoint: Endpoint
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The aiohttp handler running `endpoint` behind GitHub's checks."""

    async def handle(request: web.Request) -> web.Response:
        resource = "search" if operation.id.startswith("search/") else "core"
        counted = False
        try:
            _check_version(request)
            caller = _authenticate(state, request, operation)
            _check_rate_limits(state, resource, caller)
            counted = True
            path, query, body = await _validate(request, operation)
            reply = endpoint(Call(request, state, operation, caller, path, query, body))
        except ApiError as error:
            reply = error.reply
        response = _response(request, reply)
        if counted and response.status != 304:
            _spend(state, resource)
        response.headers.update(_rate_limit_headers(state, resource))
        return response

    return handle


def _not_found(state: GitHubState) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        response = _response(request, ApiError(404, "Not Found").reply)
        response.headers.update(_rate_limit_headers(state, "core"))
        return response

    return handle


def _paginate(
    call: Call, items: Sequence[T], render: Callable[[T], Any], *, cap: int | None = None
) -> Reply:
    """One page of `items` with GitHub's Link header; with `cap`, only the first `cap` exist."""
    per_page = call.query["per_page"]
    per_page = 30 if per_page < 1 else min(per_page, MAX_PER_PAGE)
    page = max(call.query["page"], 1)
    start = (page - 1) * per_page
    available = len(items) if cap is None else min(len(items), cap)
    if cap is not None and start >= cap:
        raise ApiError(
            422,
            f"Only the first {cap} search results are available",
            call.operation.documentation_url,
        )
    last = max(1, -(-available // per_page))
    links = {"prev": page - 1} if page > 1 else {}
    if page < last:
        links |= {"next": page + 1, "last": last}
    if page > 1:
        links["first"] = 1
    reply = Reply([render(item) for item in items[start : min(start + per_page, available)]])
    if links:
        url = call.request.url
        reply.headers["Link"] = ", ".join(
            f'<{url.update_query(page=str(number))}>; rel="{rel}"' for rel, number in links.items()
        )
    return reply


# --- Shapes: GitHub's JSON for the state's records ----------------------------------------


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _placeholder(schema: dict[str, Any], depth: int = 0) -> Any:
    """A value valid for `schema`, with only the required fields: null wherever allowed."""
    schema = _resolve(schema)
    if schema.get("nullable") or depth > 10:
        return None
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged |= _placeholder(part, depth) or {}
        return merged
    for combinator in ("oneOf", "anyOf"):
        if combinator in schema:
            return _placeholder(schema[combinator][0], depth)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if kind == "object":
        properties = schema.get("properties", {})
        return {
            name: _placeholder(properties.get(name, {}), depth + 1)
            for name in schema.get("required", ())
        }
    if kind == "string":
        formats = {"date-time": iso(SEED_TIME), "uri": f"{WEB}/", "email": "noreply@github.com"}
        return formats.get(schema.get("format", ""), "")
    return {"array": [], "boolean": False}.get(kind, 0)


def _conform(schema: dict[str, Any], data: Any) -> Any:
    """`data` with a placeholder for every field `schema` requires that `data` lacks."""
    schema = _resolve(schema)
    for part in schema.get("allOf", ()):
        data = _conform(part, data)
    options = schema.get("oneOf") or schema.get("anyOf")
    if options and isinstance(data, dict):
        # The option that declares most of the fields at hand (a user rather than `{}`).
        declared = [set(_resolve(option).get("properties", {})) & set(data) for option in options]
        return _conform(options[declared.index(max(declared, key=len))], data)
    if isinstance(data, dict):
        properties = schema.get("properties", {})
        missing = [name for name in schema.get("required", ()) if name not in data]
        conformed = {
            key: _conform(properties[key], value) if key in properties else value
            for key, value in data.items()
        }
        return conformed | {name: _placeholder(properties.get(name, {})) for name in missing}
    if isinstance(data, list) and "items" in schema:
        return [_conform(schema["items"], item) for item in data]
    return data


def shape(schema_name: str, data: dict[str, Any]) -> dict[str, Any]:
    """`data` completed with placeholders for the fields schema `schema_name` requires."""
    return _conform(spec()["components"]["schemas"][schema_name], data)  # type: ignore[no-any-return]


def _node_id(kind: str, id: int) -> str:
    """GitHub's legacy global node ID: base64 of "<len>:<Type><id>"."""
    return base64.b64encode(f"0{len(kind)}:{kind}{id}".encode()).decode()


def _user_json(call: Call, ref: dict[str, Any]) -> dict[str, Any]:
    login = ref["login"]
    user = call.state.users.get(login, {})
    return {
        **ref,
        "node_id": _node_id("User", ref["id"]),
        "type": user.get("type", "Bot" if login.endswith("[bot]") else "User"),
        "url": f"{call.api}/users/{quote(login)}",
        "html_url": f"{WEB}/{quote(login)}",
        "repos_url": f"{call.api}/users/{quote(login)}/repos",
        "site_admin": False,
    }


def _repo_json(call: Call, repo: dict[str, Any]) -> dict[str, Any]:
    full_name = repo["full_name"]
    open_issues = sum(
        issue["state"] == "open" for issue in call.state.issues.get(full_name, {}).values()
    )
    return {
        **repo,
        "node_id": _node_id("Repository", repo["id"]),
        "owner": _user_json(call, repo["owner"]),
        "url": f"{call.api}/repos/{full_name}",
        "html_url": f"{WEB}/{full_name}",
        "visibility": "private" if repo["private"] else "public",
        "fork": False,
        "default_branch": "main",
        "watchers_count": repo["stargazers_count"],
        "open_issues_count": open_issues,
        "updated_at": repo["created_at"],
        "pushed_at": repo["created_at"],
    }


def _issue_json(call: Call, full_name: str, issue: dict[str, Any]) -> dict[str, Any]:
    number = issue["number"]
    repo_url = f"{call.api}/repos/{full_name}"
    answer = {
        **issue,
        "node_id": _node_id("Issue", issue["id"]),
        "url": f"{repo_url}/issues/{number}",
        "repository_url": repo_url,
        "html_url": f"{WEB}/{full_name}/issues/{number}",
        "comments_url": f"{repo_url}/issues/{number}/comments",
        "labels": [
            {**label, "url": f"{repo_url}/labels/{quote(label['name'])}"}
            for label in issue["labels"]
        ],
        "user": _user_json(call, issue["user"]),
        "author_association": "CONTRIBUTOR",
        "locked": False,
    }
    pull = call.state.pulls.get(full_name, {}).get(number)
    if pull is not None:
        html_url = f"{WEB}/{full_name}/pull/{number}"
        answer["pull_request"] = {
            "url": f"{repo_url}/pulls/{number}",
            "html_url": html_url,
            "diff_url": f"{html_url}.diff",
            "patch_url": f"{html_url}.patch",
            "merged_at": issue["closed_at"] if pull["merged"] else None,
        }
    return answer


def _pull_json(call: Call, full_name: str, pull: dict[str, Any]) -> dict[str, Any]:
    number = pull["number"]
    issue = _issue_json(call, full_name, call.state.issues[full_name][number])
    repo = _repo_json(call, call.state.repos[full_name])

    def branch(end: dict[str, Any]) -> dict[str, Any]:
        label = f"{repo['owner']['login']}:{end['ref']}"
        return {**end, "label": label, "repo": repo, "user": repo["owner"]}

    fields = ("title", "body", "state", "user", "labels", "locked", "author_association")
    times = ("created_at", "updated_at", "closed_at")
    return {
        **{key: issue[key] for key in fields + times},
        **pull,
        "node_id": _node_id("PullRequest", pull["id"]),
        **issue["pull_request"],
        "issue_url": issue["url"],
        "head": branch(pull["head"]),
        "base": branch(pull["base"]),
        "draft": False,
    }


def _commit_json(call: Call, full_name: str, commit: dict[str, Any]) -> dict[str, Any]:
    sha = commit["sha"]
    repo_url = f"{call.api}/repos/{full_name}"
    return {
        **commit,
        "node_id": _node_id("Commit", int(sha[:8], 16)),
        "url": f"{repo_url}/commits/{sha}",
        "html_url": f"{WEB}/{full_name}/commit/{sha}",
        "comments_url": f"{repo_url}/commits/{sha}/comments",
        "commit": {
            **commit["commit"],
            "committer": commit["commit"]["author"],
            "url": f"{repo_url}/git/commits/{sha}",
            "tree": {"sha": _sha(f"tree:{sha}"), "url": f"{repo_url}/git/trees/{sha}"},
            "comment_count": 0,
        },
        "author": _user_json(call, commit["author"]),
        "committer": _user_json(call, commit["author"]),
        "parents": [
            {
                "sha": parent["sha"],
                "url": f"{repo_url}/commits/{parent['sha']}",
                "html_url": f"{WEB}/{full_name}/commit/{parent['sha']}",
            }
            for parent in commit["parents"]
        ],
    }


# --- Endpoints ----------------------------------------------------------------------------


def get_repo(call: Call) -> Reply:
    return Reply(shape("full-repository", _repo_json(call, call.repo())))


def _list_repos(call: Call, owner: str) -> Reply:
    repos = [repo for repo in call.state.repos.values() if repo["owner"]["login"] == owner]
    if call.query.get("type") in ("public", "private"):
        repos = [repo for repo in repos if repo["private"] == (call.query["type"] == "private")]
    by_name = call.query.get("sort", "full_name") == "full_name"
    direction = call.query.get("direction") or ("asc" if by_name else "desc")
    repos.sort(
        key=lambda repo: repo["full_name"].lower() if by_name else (repo["created_at"], repo["id"]),
        reverse=direction == "desc",
    )
    return _paginate(call, repos, lambda repo: shape("minimal-repository", _repo_json(call, repo)))


def list_user_repos(call: Call) -> Reply:
    if call.path["username"] not in call.state.users:
        raise call.not_found()
    return _list_repos(call, call.path["username"])


def list_org_repos(call: Call) -> Reply:
    org = call.state.users.get(call.path["org"])
    if org is None or org["type"] != "Organization":
        raise call.not_found()
    return _list_repos(call, org["login"])


def _csv(value: str | None) -> set[str]:
    return {part.strip() for part in (value or "").split(",") if part.strip()}


def list_issues(call: Call) -> Reply:
    """Issues and pull requests; `state`, `labels` (all must match), `creator`, sorting."""
    full_name = call.repo()["full_name"]
    wanted, labels = call.query["state"], _csv(call.query.get("labels"))
    creator = call.query.get("creator")
    issues = [
        issue
        for issue in call.state.issues.get(full_name, {}).values()
        if wanted in ("all", issue["state"])
        and labels <= {label["name"] for label in issue["labels"]}
        and creator in (None, issue["user"]["login"])
    ]
    key = {"created": "created_at", "updated": "updated_at", "comments": "comments"}
    sort = key.get(call.query["sort"], "created_at")
    issues.sort(key=lambda issue: (issue[sort], issue["number"]))
    if call.query["direction"] == "desc":
        issues.reverse()
    return _paginate(
        call, issues, lambda issue: shape("issue", _issue_json(call, full_name, issue))
    )


def create_issue(call: Call) -> Reply:
    full_name = call.repo()["full_name"]
    if not str(call.body.get("title", "")).strip():  # the schema allows "", GitHub does not
        raise ApiError(
            422,
            "Validation Failed",
            "https://docs.github.com/rest/issues/issues#create-an-issue",
            errors=[{"resource": "Issue", "field": "title", "code": "missing_field"}],
        )
    labels = [
        label if isinstance(label, str) else label["name"] for label in call.body.get("labels", [])
    ]
    issue = call.state.add_issue(
        full_name,
        str(call.body["title"]),
        author=call.caller.login,
        body=call.body.get("body"),
        labels=labels,
    )
    answer = shape("issue", _issue_json(call, full_name, issue))
    return Reply(answer, 201, {"Location": answer["url"]})


def _issue(call: Call) -> tuple[str, dict[str, Any]]:
    full_name = call.repo()["full_name"]
    issue = call.state.issues.get(full_name, {}).get(call.path["issue_number"])
    if issue is None:
        raise call.not_found()
    return full_name, issue


def get_issue(call: Call) -> Reply:
    full_name, issue = _issue(call)
    return Reply(shape("issue", _issue_json(call, full_name, issue)))


def create_comment(call: Call) -> Reply:
    full_name, issue = _issue(call)
    number = issue["number"]
    comment = call.state.add_comment(full_name, number, call.body["body"], author=call.caller.login)
    issue_url = f"{call.api}/repos/{full_name}/issues/{number}"
    answer = {
        **comment,
        "node_id": _node_id("IssueComment", comment["id"]),
        "user": _user_json(call, comment["user"]),
        "url": f"{call.api}/repos/{full_name}/issues/comments/{comment['id']}",
        "html_url": f"{WEB}/{full_name}/issues/{number}#issuecomment-{comment['id']}",
        "issue_url": issue_url,
        "author_association": "CONTRIBUTOR",
    }
    return Reply(shape("issue-comment", answer), 201, {"Location": answer["url"]})


def list_pulls(call: Call) -> Reply:
    """Pull requests; `state`, `head` ("owner:branch" or branch), `base`, sorting."""
    full_name = call.repo()["full_name"]
    owner = full_name.split("/")[0]
    issues = call.state.issues.get(full_name, {})
    wanted, head, base = call.query["state"], call.query.get("head"), call.query.get("base")
    pulls = [
        pull
        for pull in call.state.pulls.get(full_name, {}).values()
        if wanted in ("all", issues[pull["number"]]["state"])
        and head in (None, pull["head"]["ref"], f"{owner}:{pull['head']['ref']}")
        and base in (None, pull["base"]["ref"])
    ]
    sort = "updated_at" if call.query["sort"] == "updated" else "created_at"
    pulls.sort(key=lambda pull: (issues[pull["number"]][sort], pull["number"]))
    if call.query.get("direction", "desc" if call.query["sort"] == "created" else "asc") == "desc":
        pulls.reverse()
    return _paginate(
        call, pulls, lambda pull: shape("pull-request-simple", _pull_json(call, full_name, pull))
    )


def get_pull(call: Call) -> Reply:
    full_name = call.repo()["full_name"]
    pull = call.state.pulls.get(full_name, {}).get(call.path["pull_number"])
    if pull is None:
        raise call.not_found()
    return Reply(shape("pull-request", _pull_json(call, full_name, pull)))


def list_commits(call: Call) -> Reply:
    """Commits newest first; `sha` (start from that commit or branch), `author` (login)."""
    full_name = call.repo()["full_name"]
    commits = call.state.commits.get(full_name, [])
    start = call.query.get("sha")
    if start is not None:
        commits = commits[_commit_index(call, commits, start) :]
    author = call.query.get("author")
    if author is not None:
        commits = [commit for commit in commits if commit["author"]["login"] == author]
    return _paginate(
        call, commits, lambda commit: shape("commit", _commit_json(call, full_name, commit))
    )


def _commit_index(call: Call, commits: list[dict[str, Any]], ref: str) -> int:
    """Where `ref` (a branch, HEAD, or a SHA of 7+ characters) is in newest-first `commits`."""
    if ref in ("main", "HEAD") and commits:
        return 0
    for index, commit in enumerate(commits):
        if len(ref) >= 7 and commit["sha"].startswith(ref):
            return index
    raise ApiError(422, f"No commit found for SHA: {ref}", call.operation.documentation_url)


def get_commit(call: Call) -> Reply:
    full_name = call.repo()["full_name"]
    commits = call.state.commits.get(full_name, [])
    commit = commits[_commit_index(call, commits, call.path["ref"])]
    return Reply(shape("commit", _commit_json(call, full_name, commit)))


def get_user(call: Call) -> Reply:
    user = call.state.users.get(call.path["username"])
    if user is None:
        raise call.not_found()
    public_repos = sum(
        repo["owner"]["login"] == user["login"] for repo in call.state.repos.values()
    )
    answer = {
        **_user_json(call, user),
        "name": user["name"],
        "public_repos": public_repos,
        "user_view_type": "public",
        "created_at": iso(SEED_TIME),
        "updated_at": iso(SEED_TIME),
    }
    return Reply(shape("public-user", answer))


def _search_terms(call: Call) -> tuple[list[str], dict[str, list[str]]]:
    """Free words (lower case) and qualifiers ("key:value") of the `q` parameter."""
    words: list[str] = []
    qualifiers: dict[str, list[str]] = {}
    for term in call.query["q"].split():
        key, colon, value = term.partition(":")
        if colon and value:
            qualifiers.setdefault(key.lower(), []).append(value)
        else:
            words.append(term.lower())
    if not words and not qualifiers:
        missing = {"resource": "Search", "field": "q", "code": "missing"}
        raise ApiError(422, "Validation Failed", call.operation.documentation_url, errors=[missing])
    return words, qualifiers


def search_repos(call: Call) -> Reply:
    """Words in name or description; qualifiers user:, org:, repo:, language:, is:public/private."""
    words, qualifiers = _search_terms(call)

    def matches(repo: dict[str, Any]) -> bool:
        text = f"{repo['name']} {repo['description'] or ''}".lower()
        owners = qualifiers.get("user", []) + qualifiers.get("org", [])
        visibility = "private" if repo["private"] else "public"
        return (
            all(word in text for word in words)
            and all(owner == repo["owner"]["login"] for owner in owners)
            and all(name == repo["full_name"] for name in qualifiers.get("repo", []))
            and all(
                lang.lower() == (repo["language"] or "").lower()
                for lang in qualifiers.get("language", [])
            )
            and all(kind == visibility for kind in qualifiers.get("is", []))
        )

    found = [repo for repo in call.state.repos.values() if matches(repo)]
    if call.query.get("sort") in ("stars", "updated"):
        key = "stargazers_count" if call.query["sort"] == "stars" else "created_at"
        found.sort(key=lambda repo: (repo[key], repo["id"]), reverse=call.query["order"] == "desc")
    page = _paginate(
        call,
        found,
        lambda repo: shape("repo-search-result-item", {**_repo_json(call, repo), "score": 1.0}),
        cap=SEARCH_CAP,
    )
    page.body = {"total_count": len(found), "incomplete_results": False, "items": page.body}
    return page


def search_issues(call: Call) -> Reply:
    """Words in title or body; qualifiers repo:, user:, org:, is:/type: issue/pr/open/closed,
    state:, label:, author:."""
    words, qualifiers = _search_terms(call)
    kinds = qualifiers.get("is", []) + qualifiers.get("type", []) + qualifiers.get("state", [])

    def matches(full_name: str, issue: dict[str, Any]) -> bool:
        is_pull = issue["number"] in call.state.pulls.get(full_name, {})
        facts = {issue["state"], *(("pr", "pull-request") if is_pull else ("issue",))}
        text = f"{issue['title']} {issue['body'] or ''}".lower()
        owners = qualifiers.get("user", []) + qualifiers.get("org", [])
        return (
            all(word in text for word in words)
            and all(kind in facts for kind in kinds)
            and all(name == full_name for name in qualifiers.get("repo", []))
            and all(owner == full_name.split("/")[0] for owner in owners)
            and set(qualifiers.get("label", [])) <= {label["name"] for label in issue["labels"]}
            and all(login == issue["user"]["login"] for login in qualifiers.get("author", []))
        )

    found = [
        (full_name, issue)
        for full_name, issues in call.state.issues.items()
        for issue in issues.values()
        if matches(full_name, issue)
    ]
    if call.query.get("sort") in ("comments", "created", "updated"):
        key = {"comments": "comments", "created": "created_at", "updated": "updated_at"}
        field_name = key[call.query["sort"]]
        found.sort(
            key=lambda hit: (hit[1][field_name], hit[1]["id"]),
            reverse=call.query["order"] == "desc",
        )
    page = _paginate(
        call,
        found,
        lambda hit: shape("issue-search-result-item", {**_issue_json(call, *hit), "score": 1.0}),
        cap=SEARCH_CAP,
    )
    page.body = {
        "total_count": len(found),
        "incomplete_results": False,
        "items": page.body,
        "search_type": "lexical",
    }
    return page


def create_installation_token(call: Call) -> Reply:
    """A `ghs_` token valid for `installation_token_ttl` seconds on the state's clock."""
    installation_id = call.path["installation_id"]
    granted = call.state.installations.get(installation_id)
    if granted is None:
        raise call.not_found()
    body = call.body or {}
    token = "ghs_" + secrets.token_hex(18)
    expires_at = call.state.now() + call.state.installation_token_ttl
    call.state.installation_tokens[token] = IssuedToken(installation_id, expires_at)
    call.state.installation_tokens_issued += 1
    answer = {
        "token": token,
        "expires_at": iso(expires_at),
        "permissions": body.get("permissions") or granted,
        "repository_selection": "selected"
        if body.get("repositories") or body.get("repository_ids")
        else "all",
    }
    return Reply(answer, 201)


ENDPOINTS: dict[str, Endpoint] = {
    "repos/get": get_repo,
    "repos/list-for-user": list_user_repos,
    "repos/list-for-org": list_org_repos,
    "issues/list-for-repo": list_issues,
    "issues/create": create_issue,
    "issues/get": get_issue,
    "issues/create-comment": create_comment,
    "pulls/list": list_pulls,
    "pulls/get": get_pull,
    "repos/list-commits": list_commits,
    "repos/get-commit": get_commit,
    "users/get-by-username": get_user,
    "search/repos": search_repos,
    "search/issues-and-pull-requests": search_issues,
    "apps/create-installation-access-token": create_installation_token,
}
RESOURCES = {  # what validation errors name as the `resource`, by operation or its tag
    "issues/create-comment": "IssueComment",
    "apps": "Installation",
    "issues": "Issue",
    "pulls": "PullRequest",
    "repos": "Repository",
    "search": "Search",
    "users": "User",
}
HTTP_METHODS = ("get", "put", "post", "delete", "patch")


def create_github_app(state: GitHubState) -> web.Application:
    """The fake API over `state`: one route per operation of the pruned description."""
    app = web.Application()
    for path, item in spec()["paths"].items():
        for method in HTTP_METHODS:
            if method not in item:
                continue
            operation_id = item[method]["operationId"]
            resource = RESOURCES.get(operation_id) or RESOURCES[operation_id.split("/")[0]]
            operation = Operation(operation_id, item[method]["externalDocs"]["url"], resource)
            app.router.add_route(
                method.upper(), path, _serve(state, operation, ENDPOINTS[operation_id])
            )
    app.router.add_route("*", "/{tail:.*}", _not_found(state))
    return app
