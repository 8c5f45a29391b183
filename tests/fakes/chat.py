"""A fake of the company's Slack-flavoured people directory; its base URL plays
`https://slack.com/api`.

    state = ChatState.seeded(TrackerData())  # a profile for every tracker author's email
    async with FakeUpstream(create_chat_app(state)) as chat:
        ...  # GET {chat.url}/users.lookupByEmail?email=ada-lovelace@acme.test, bearer CHAT_TOKEN

Like Slack, every method answers HTTP 200 with `{"ok": true, ...}` or `{"ok": false, "error":
"<code>"}`, missing or refused credentials included (`not_authed`, `invalid_auth`). Arguments
come from the query string or a urlencoded form body; the token from a Bearer header or a
`token` argument. Emails are matched case-insensitively. Beyond Slack,
`users.lookupByEmails?emails=a,b` is a multi-get: the known users, in an order of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from connectql.testing.fakes.slack import SlackError, slack_id
from tests.fakes.tracker import Person, TrackerData

CHAT_TOKEN = "xoxb-acme-chat-fake-token"
TEAM_ID = slack_id("T", "acme")
MAX_EMAILS = 100


def profile(person: Person) -> dict[str, Any]:
    """Slack's user object for `person` (the fields a users:read.email bot sees)."""
    return {
        "id": slack_id("U", person.email),
        "team_id": TEAM_ID,
        "name": person.login,
        "deleted": False,
        "real_name": person.name,
        "tz": "Europe/London",
        "is_bot": False,
        "profile": {
            "email": person.email,
            "real_name": person.name,
            "real_name_normalized": person.name,
            "display_name": person.login,
            "title": person.title,
        },
    }


@dataclass
class ChatState:
    """The directory and the tokens it takes; tests may change either mid-test."""

    users: list[dict[str, Any]] = field(default_factory=list)
    tokens: set[str] = field(default_factory=lambda: {CHAT_TOKEN})

    @classmethod
    def seeded(cls, data: TrackerData | None = None, *, extra: Iterable[Person] = ()) -> ChatState:
        """A profile for every author of `data` (default: TrackerData()), then `extra` people."""
        people = [*(data or TrackerData()).people(), *extra]
        return cls(users=[profile(p) for p in people])

    def by_email(self, email: str) -> dict[str, Any] | None:
        wanted = email.strip().lower()
        return next((u for u in self.users if u["profile"]["email"].lower() == wanted), None)


def _invalid_arguments(message: str) -> SlackError:
    return SlackError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {message}"]})


def _argument(args: dict[str, str], name: str) -> str:
    value = args.get(name, "").strip()
    if not value:
        raise _invalid_arguments(f"missing required field: {name}")
    return value


# --- methods: (state, args) -> the answer's fields besides "ok" ---


def lookup_by_email(state: ChatState, args: dict[str, str]) -> dict[str, Any]:
    user = state.by_email(_argument(args, "email"))
    if user is None:
        raise SlackError("users_not_found")
    return {"user": user}


def lookup_by_emails(state: ChatState, args: dict[str, str]) -> dict[str, Any]:
    """The multi-get: `emails=a,b`; unknown emails are left out, duplicates answered once."""
    emails = [e.strip() for e in _argument(args, "emails").split(",") if e.strip()]
    if len(emails) > MAX_EMAILS:
        raise _invalid_arguments(f"at most {MAX_EMAILS} emails may be asked for")
    found = {id(u): u for u in map(state.by_email, emails) if u is not None}
    # Not in the order asked: callers must match answers to keys by email.
    return {"users": sorted(found.values(), key=lambda u: str(u["id"]))}


METHODS: dict[str, Callable[[ChatState, dict[str, str]], dict[str, Any]]] = {
    "users.lookupByEmail": lookup_by_email,
    "users.lookupByEmails": lookup_by_emails,
}
STATE = web.AppKey("chat_state", ChatState)


def _authenticate(state: ChatState, request: web.Request, args: dict[str, str]) -> None:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    token = credentials.strip() if scheme.lower() == "bearer" else args.get("token", "")
    if not token:
        raise SlackError("not_authed")
    if token not in state.tokens:
        raise SlackError("invalid_auth")


async def _call(request: web.Request) -> web.Response:
    state = request.app[STATE]
    name = request.match_info["method"]
    method = METHODS.get(name)
    if method is None:
        return web.json_response({"ok": False, "error": "unknown_method", "req_method": name})
    args = dict(request.query)
    if request.content_type == "application/x-www-form-urlencoded":
        body = await request.read()
        args.update(parse_qsl(body.decode(errors="replace"), keep_blank_values=True))
    try:
        _authenticate(state, request, args)
        answer: dict[str, Any] = {"ok": True, **method(state, args)}
    except SlackError as error:
        answer = {"ok": False, "error": error.code, **error.extra}
    return web.json_response(answer)


def create_chat_app(state: ChatState | None = None) -> web.Application:
    app = web.Application()
    app[STATE] = state or ChatState.seeded()
    app.router.add_route("GET", "/{method}", _call)
    app.router.add_route("POST", "/{method}", _call)
    return app
