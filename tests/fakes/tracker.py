"""A fake of the company's GitHub-flavoured issue tracker, as an aiohttp app.

    data = TrackerData()  # 50 issues in acme/widgets, written in turn by 8 people
    async with FakeUpstream(create_tracker_app(data)) as tracker:
        ...  # GET {tracker.url}/repos/acme/widgets/issues, "Authorization: Bearer TRACKER_TOKEN"

It answers as GitHub does: an unknown route is 404 before credentials are looked at; no or bad
credentials are 401; issues are listed newest first, open ones unless `state` says otherwise,
in pages with a `Link` header built from the fake's own URL; logins are case-insensitive;
errors carry GitHub's `{message, documentation_url, status}` body. Beyond GitHub,
`GET /users?logins=a,b` is a multi-get: the known users, in an order of its own.

`TrackerData` is also the seed of the chat fake (tests/fakes/chat.py): every author's email
has a chat profile there, so the two agree on who is who.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.Response]]

TRACKER_TOKEN = "ghp_acmeTrackerFakeToken0123456789"
DOCS = "https://docs.github.com/rest"
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
MAX_LOGINS = 100
ISSUE_STATES = ("open", "closed", "all")
SEED_TIME = datetime(2024, 1, 1, tzinfo=UTC)
NAMES = (
    ("Ada", "Lovelace"),
    ("Grace", "Hopper"),
    ("Alan", "Turing"),
    ("Edsger", "Dijkstra"),
    ("Barbara", "Liskov"),
    ("Ken", "Thompson"),
    ("Margaret", "Hamilton"),
    ("Dennis", "Ritchie"),
    ("Frances", "Allen"),
    ("John", "Backus"),
    ("Radia", "Perlman"),
    ("Donald", "Knuth"),
)
TITLES = (
    "Staff Engineer",
    "Engineering Manager",
    "Product Designer",
    "Site Reliability Engineer",
    "Product Manager",
    "Security Engineer",
    "Data Scientist",
)


@dataclass(frozen=True)
class Person:
    """Someone at the company: a tracker user and, by the same email, a chat profile."""

    login: str
    name: str
    email: str
    title: str


def person(index: int, domain: str) -> Person:
    """The `index`-th person (from 0): deterministic, and distinct for every index."""
    (first, last), round_ = NAMES[index % len(NAMES)], index // len(NAMES)
    login = f"{first}-{last}".lower() + (f"-{round_ + 1}" if round_ else "")
    name = f"{first} {last}" + (f" {round_ + 1}" if round_ else "")
    return Person(login, name, f"{login}@{domain}", TITLES[index % len(TITLES)])


@dataclass(frozen=True)
class TrackerData:
    """What the tracker serves: `issues` issues in `owner/repo`, numbered from 1, issue n
    written by author (n - 1) % `authors`; every 5th issue is closed."""

    issues: int = 50
    authors: int = 8
    owner: str = "acme"
    repo: str = "widgets"
    domain: str = "acme.test"

    def __post_init__(self) -> None:
        if self.issues < 0 or self.authors < 1:
            raise ValueError("a tracker needs issues >= 0 and authors >= 1")

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    def people(self) -> list[Person]:
        """Every author, in order; all of them are tracker users."""
        return [person(i, self.domain) for i in range(self.authors)]

    def author_of(self, number: int) -> Person:
        return person((number - 1) % self.authors, self.domain)

    def state_of(self, number: int) -> str:
        return "closed" if number % 5 == 0 else "open"


class TrackerError(Exception):
    """An answer in GitHub's error shape."""

    def __init__(self, status: int, message: str, *, errors: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors

    def response(self) -> web.Response:
        body: dict[str, Any] = {"message": self.message}
        if self.errors is not None:
            body["errors"] = self.errors
        body |= {"documentation_url": DOCS, "status": str(self.status)}
        return web.json_response(body, status=self.status)


def _moment(hours: int) -> str:
    return (SEED_TIME + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


class Tracker:
    """The served records and the handlers over them."""

    def __init__(self, data: TrackerData, tokens: Collection[str]) -> None:
        self.data = data
        self.tokens = frozenset(tokens)
        self.users = {
            p.login.lower(): {"login": p.login, "id": 1000 + i, "name": p.name, "email": p.email}
            for i, p in enumerate(data.people())
        }
        """Lower-cased login -> the user."""
        self.issues = [self._issue(n) for n in range(data.issues, 0, -1)]
        """Newest first, as GitHub lists them by default."""

    def _issue(self, number: int) -> dict[str, Any]:
        author = self.users[self.data.author_of(number).login.lower()]
        state = self.data.state_of(number)
        return {
            "id": 500_000 + number,
            "number": number,
            "title": f"Widget issue {number}",
            "state": state,
            "user": {"login": author["login"], "id": author["id"], "type": "User"},
            "labels": [],
            "comments": 0,
            "created_at": _moment(number),
            "updated_at": _moment(number),
            "closed_at": _moment(number) if state == "closed" else None,
        }

    # --- handlers -----------------------------------------------------------------------

    async def list_issues(self, request: web.Request) -> web.Response:
        owner, repo = request.match_info["owner"], request.match_info["repo"]
        if f"{owner}/{repo}".lower() != self.data.full_name.lower():
            raise TrackerError(404, "Not Found")
        state = request.query.get("state", "open")
        if state not in ISSUE_STATES:
            raise _invalid("state", state)
        issues = [i for i in self.issues if state in ("all", i["state"])]
        return _page(request, issues)

    async def get_user(self, request: web.Request) -> web.Response:
        user = self.users.get(request.match_info["login"].lower())
        if user is None:
            raise TrackerError(404, "Not Found")
        return web.json_response(user)

    async def get_users(self, request: web.Request) -> web.Response:
        """The multi-get: `?logins=a,b,c`; unknown logins are left out, duplicates once."""
        raw = request.query.get("logins", "")
        logins = [login.strip() for login in raw.split(",") if login.strip()]
        if not logins:
            raise _unprocessable("missing", "logins is required")
        if len(logins) > MAX_LOGINS:
            raise _unprocessable("invalid", f"at most {MAX_LOGINS} logins may be asked for")
        found = {key: self.users[key] for key in map(str.lower, logins) if key in self.users}
        # Not in the order asked: callers must match answers to keys by login.
        return web.json_response([found[key] for key in sorted(found, reverse=True)])

    # --- credentials -------------------------------------------------------------------

    def serve(self, handler: Handler) -> Handler:
        """`handler` behind the credentials check, with errors in GitHub's shape.

        A wrapper, not a middleware: the app's own middleware would run before FakeUpstream's
        recorder (appended after it) and hide refused requests from the count.
        """

        async def handle(request: web.Request) -> web.Response:
            try:
                self._authenticate(request)
                return await handler(request)
            except TrackerError as error:
                return error.response()

        return handle

    def _authenticate(self, request: web.Request) -> None:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() not in ("bearer", "token") or not credentials.strip():
            raise TrackerError(401, "Requires authentication")
        if credentials.strip() not in self.tokens:
            raise TrackerError(401, "Bad credentials")


async def _not_found(request: web.Request) -> web.Response:
    """Any other route or method: GitHub says 404 before it looks at credentials."""
    return TrackerError(404, "Not Found").response()


def _invalid(name: str, value: str) -> TrackerError:
    return TrackerError(400, f"Invalid request.\n\nInvalid value for {name!r}: {value!r}.")


def _unprocessable(code: str, message: str) -> TrackerError:
    error = {"resource": "User", "field": "logins", "code": code, "message": message}
    return TrackerError(422, "Validation Failed", errors=[error])


def _int_param(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise _invalid(name, raw) from None


def _page(request: web.Request, items: list[dict[str, Any]]) -> web.Response:
    """One page of `items` with GitHub's Link header (prev, next, last, first as they apply)."""
    per_page = _int_param(request, "per_page", DEFAULT_PER_PAGE)
    per_page = DEFAULT_PER_PAGE if per_page < 1 else min(per_page, MAX_PER_PAGE)
    page = max(_int_param(request, "page", 1), 1)
    start = (page - 1) * per_page
    last = max(1, -(-len(items) // per_page))
    links = {"prev": page - 1} if page > 1 else {}
    if page < last:
        links |= {"next": page + 1, "last": last}
    if page > 1:
        links["first"] = 1
    headers = {}
    if links:
        headers["Link"] = ", ".join(
            f'<{request.url.update_query(page=str(number))}>; rel="{rel}"'
            for rel, number in links.items()
        )
    return web.json_response(items[start : start + per_page], headers=headers)


def create_tracker_app(
    data: TrackerData | None = None, *, tokens: Collection[str] = (TRACKER_TOKEN,)
) -> web.Application:
    tracker = Tracker(data or TrackerData(), tokens)
    app = web.Application()
    app.router.add_get("/repos/{owner}/{repo}/issues", tracker.serve(tracker.list_issues))
    app.router.add_get("/users", tracker.serve(tracker.get_users))
    app.router.add_get("/users/{login}", tracker.serve(tracker.get_user))
    app.router.add_route("*", "/{tail:.*}", _not_found)
    return app
