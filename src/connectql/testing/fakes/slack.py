"""A fake of the Slack Web API as an aiohttp app; its base URL plays `https://slack.com/api`.

    state = SlackState.seeded()
    async with FakeUpstream(create_slack_app(state)) as slack:
        ...  # POST {slack.url}/api/chat.postMessage, "Authorization: Bearer xoxb-fake-bot-token"

Like Slack, every method answers HTTP 200 with `{"ok": true, ...}` or `{"ok": false, "error":
"<code>"}`; only rate limiting (429 with Retry-After) and the raw upload URL use other statuses.
Arguments come from the query string, a form body (urlencoded or multipart) or, for the methods
Slack lets take one, a JSON body (whose token Slack ignores: JSON callers send a Bearer header).
The workspace has a single caller, the bot: private channels it is not in stay invisible to it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import mimetypes
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from email import policy
from email.parser import BytesParser
from typing import Any, Literal
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

BOT_TOKEN = "xoxb-fake-bot-token"
REFRESH_TOKEN = "xoxe-1-fake-refresh-token"
CLIENT_ID = "1000000000001.2000000000002"
CLIENT_SECRET = "fake-client-secret"
SCOPES = (
    "channels:history,channels:read,chat:write,files:write,"
    "groups:history,groups:read,users:read,users:read.email"
)
MAX_TEXT = 40_000
CHANNEL_TYPES = frozenset({"public_channel", "private_channel", "mpim", "im"})

Tier = Literal[1, 2, 3, 4, "special"]
RETRY_AFTER: dict[Tier, int] = {1: 60, 2: 20, 3: 3, 4: 1, "special": 1}
"""Seconds a rate-limited caller is told to wait, per tier."""

FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Dennis", "Frances")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Hamilton")
CHANNEL_NAMES = (
    "general",
    "random",
    "engineering",
    "design",
    "support",
    "sales",
    "marketing",
    "ops",
    "announcements",
    "data",
    "releases",
    "incidents",
)
FIRST_TS = 1_700_000_000
"""The oldest seeded message's ts second; later ones follow a minute apart."""


def slack_id(prefix: str, seed: str) -> str:
    """A deterministic Slack-looking id such as `U3F2A9C01BE`."""
    return prefix + hashlib.sha256(seed.encode()).hexdigest()[:10].upper()


@dataclass
class UploadedFile:
    """A file reserved by files.getUploadURLExternal; `data` is None until its bytes arrive."""

    id: str
    name: str
    length: int
    created: int
    data: bytes | None = None
    title: str = ""
    channels: list[str] = field(default_factory=list)
    completed: bool = False


@dataclass(frozen=True)
class Grant:
    """One successful token rotation: the refresh token spent and what it bought."""

    refresh_token: str
    access_token: str
    new_refresh_token: str
    expires_at: float


@dataclass
class SlackState:
    """The workspace and the knobs tests turn; every field may be read or changed mid-test."""

    team: dict[str, str] = field(
        default_factory=lambda: {
            "id": slack_id("T", "team"),
            "name": "ConnectQL Test",
            "domain": "connectql-test",
        }
    )
    bot_user_id: str = slack_id("U", "bot")
    bot_id: str = slack_id("B", "bot")
    app_id: str = slack_id("A", "app")
    users: list[dict[str, Any]] = field(default_factory=list)
    channels: list[dict[str, Any]] = field(default_factory=list)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Channel id -> its messages, oldest first."""
    bot_channels: set[str] = field(default_factory=set)
    """Ids of the channels the bot is a member of."""
    tokens: dict[str, float] = field(default_factory=lambda: {BOT_TOKEN: math.inf})
    """Access token -> expiry (epoch seconds, compared with `now()`)."""
    refresh_tokens: set[str] = field(default_factory=lambda: {REFRESH_TOKEN})
    """Unspent refresh tokens; each works once."""
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    token_ttl: int = 43_200
    scopes: str = SCOPES
    grants: list[Grant] = field(default_factory=list)
    rate_limited: dict[str, int] = field(default_factory=dict)
    """Method -> how many of its next calls get HTTP 429."""
    tiers: dict[str, Tier] = field(default_factory=lambda: dict(TIERS))
    """Method -> rate-limit tier, which sets the Retry-After of its 429s."""
    files: dict[str, UploadedFile] = field(default_factory=dict)
    now: Callable[[], float] = time.time

    @classmethod
    def seeded(
        cls, n_users: int = 30, n_channels: int = 12, n_messages: int = 250, **knobs: Any
    ) -> SlackState:
        """A deterministic workspace.

        users: `n_users` members, the last of them the bot (the rest are people).
        channels: `n_channels`; index 0 is #general; index i is private when i % 4 == 3,
        archived when i % 6 == 5, and has the bot as a member unless i % 3 == 2 (so private
        channel 11 is invisible to the bot).
        messages: `n_messages` in #general, a minute apart from ts "1700000000.000100",
        written in turn by the first 8 people.
        """
        state = cls(**knobs)
        people = [_person(i, state.team["id"]) for i in range(max(0, n_users - 1))]
        state.users = [*people, _bot_user(state)] if n_users > 0 else []
        creator = people[0]["id"] if people else state.bot_user_id
        for i in range(n_channels):
            channel = _channel(i, creator, n_users)
            state.channels.append(channel)
            if i % 3 != 2:
                state.bot_channels.add(channel["id"])
        if state.channels:
            authors = [p["id"] for p in people[:8]] or [state.bot_user_id]
            state.messages[state.channels[0]["id"]] = [
                {
                    "type": "message",
                    "user": authors[i % len(authors)],
                    "text": f"Message {i + 1} in #general",
                    "ts": f"{FIRST_TS + 60 * i}.000100",
                    "team": state.team["id"],
                }
                for i in range(n_messages)
            ]
        return state

    def channel(self, id_or_name: str) -> dict[str, Any] | None:
        """A channel the bot can see, by id, `name` or `#name`."""
        name = id_or_name.removeprefix("#")
        for channel in self.channels:
            if id_or_name == channel["id"] or name == channel["name"]:
                visible = not channel["is_private"] or channel["id"] in self.bot_channels
                return channel if visible else None
        return None


def _person(i: int, team_id: str) -> dict[str, Any]:
    first, last = FIRST_NAMES[i % len(FIRST_NAMES)], LAST_NAMES[i % len(LAST_NAMES)]
    user_id = slack_id("U", f"user{i}")
    return {
        "id": user_id,
        "team_id": team_id,
        "name": f"user{i + 1:02d}",
        "deleted": False,
        "real_name": f"{first} {last}",
        "tz": "Europe/Amsterdam",
        "is_admin": i == 0,
        "is_bot": False,
        "updated": FIRST_TS - 86_400 + i,
        "profile": {
            "display_name": first,
            "real_name": f"{first} {last}",
            "email": f"user{i + 1:02d}@example.com",
            "image_72": f"https://avatars.slack-edge.com/{user_id}_72.png",
        },
    }


def _bot_user(state: SlackState) -> dict[str, Any]:
    return {
        "id": state.bot_user_id,
        "team_id": state.team["id"],
        "name": "connectql",
        "deleted": False,
        "real_name": "ConnectQL",
        "is_admin": False,
        "is_bot": True,
        "updated": FIRST_TS - 86_400,
        "profile": {
            "display_name": "ConnectQL",
            "real_name": "ConnectQL",
            "bot_id": state.bot_id,
            "image_72": f"https://avatars.slack-edge.com/{state.bot_id}_72.png",
        },
    }


def _channel(i: int, creator: str, n_users: int) -> dict[str, Any]:
    name = CHANNEL_NAMES[i] if i < len(CHANNEL_NAMES) else f"channel-{i}"
    private = i % 4 == 3
    return {
        "id": slack_id("G" if private else "C", f"channel{i}"),
        "name": name,
        "name_normalized": name,
        "is_channel": not private,
        "is_group": private,
        "is_im": False,
        "is_mpim": False,
        "is_private": private,
        "is_archived": i % 6 == 5,
        "is_general": i == 0,
        "created": FIRST_TS - 86_400 * (30 - i % 30),
        "creator": creator,
        "num_members": n_users if i == 0 else min(n_users, 3 + i),
        "topic": {"value": f"All about {name}", "creator": creator, "last_set": FIRST_TS},
        "purpose": {"value": f"The #{name} channel", "creator": creator, "last_set": FIRST_TS},
    }


class SlackError(Exception):
    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.extra = extra


def _missing(name: str) -> SlackError:
    return SlackError(
        "invalid_arguments",
        response_metadata={"messages": [f"[ERROR] missing required field: {name}"]},
    )


def _int(args: dict[str, Any], name: str, default: int) -> int:
    raw = args.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise SlackError("invalid_arguments") from None


def _flag(args: dict[str, Any], name: str) -> bool:
    return str(args.get(name, "")).lower() in ("1", "true")


def _page(
    items: list[dict[str, Any]],
    args: dict[str, Any],
    *,
    kind: str,
    key: str = "id",
    default: int,
    maximum: int,
) -> tuple[list[dict[str, Any]], str]:
    """One page of `items` and the opaque cursor of the next ("" after the last page).

    The cursor is base64 of `<kind>:<key of the next item>`, like Slack's `dXNlcjpVMDYxTkZUVDI=`.
    """
    limit = _int(args, "limit", default)
    limit = min(maximum, limit if limit > 0 else default)
    start = 0
    if cursor := args.get("cursor"):
        try:
            decoded = base64.b64decode(str(cursor), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise SlackError("invalid_cursor") from None
        prefix, _, value = decoded.partition(":")
        start = next((i for i, item in enumerate(items) if item[key] == value), -1)
        if prefix != kind or start < 0:
            raise SlackError("invalid_cursor")
    end = start + limit
    next_cursor = ""
    if end < len(items):
        next_cursor = base64.b64encode(f"{kind}:{items[end][key]}".encode()).decode()
    return items[start:end], next_cursor


def _ts(args: dict[str, Any], name: str) -> Decimal | None:
    raw = args.get(name)
    if raw in (None, ""):
        return None
    try:
        value = Decimal(str(raw))
    except ArithmeticError:
        value = Decimal("NaN")
    if not value.is_finite():
        raise SlackError(f"invalid_ts_{name}")
    return value


def _next_ts(state: SlackState, channel_id: str) -> str:
    step = Decimal("0.000001")
    ts = Decimal(state.now()).quantize(step)
    history = state.messages.setdefault(channel_id, [])
    if history and ts <= Decimal(history[-1]["ts"]):
        ts = Decimal(history[-1]["ts"]) + step
    return f"{ts:.6f}"


def _member_channel(state: SlackState, id_or_name: Any) -> dict[str, Any]:
    """A channel the bot may read or write, or the error Slack gives for it."""
    channel = state.channel(str(id_or_name or ""))
    if channel is None:
        raise SlackError("channel_not_found")
    if channel["id"] not in state.bot_channels:
        raise SlackError("not_in_channel")
    return channel


# --- methods: (state, args, request) -> the answer's fields besides "ok" ---


def auth_test(state: SlackState, args: dict[str, Any], request: web.Request) -> dict[str, Any]:
    return {
        "url": f"https://{state.team['domain']}.slack.com/",
        "team": state.team["name"],
        "user": "connectql",
        "team_id": state.team["id"],
        "user_id": state.bot_user_id,
        "bot_id": state.bot_id,
        "is_enterprise_install": False,
    }


def conversations_list(
    state: SlackState, args: dict[str, Any], request: web.Request
) -> dict[str, Any]:
    types = set(str(args.get("types") or "public_channel").split(","))
    if not types <= CHANNEL_TYPES:
        raise SlackError("invalid_types")
    channels = [
        {**c, "is_member": c["id"] in state.bot_channels}
        for c in state.channels
        if ("private_channel" if c["is_private"] else "public_channel") in types
        and state.channel(c["id"]) is not None
        and not (c["is_archived"] and _flag(args, "exclude_archived"))
    ]
    page, cursor = _page(channels, args, kind="team", default=100, maximum=1000)
    return {"channels": page, "response_metadata": {"next_cursor": cursor}}


def conversations_history(
    state: SlackState, args: dict[str, Any], request: web.Request
) -> dict[str, Any]:
    channel = state.channel(str(args.get("channel") or ""))
    if channel is None or args["channel"] != channel["id"]:  # history wants an id
        raise SlackError("channel_not_found")
    if channel["id"] not in state.bot_channels:
        raise SlackError("not_in_channel")
    oldest = _ts(args, "oldest") or Decimal(0)
    latest = _ts(args, "latest") or Decimal("Infinity")  # Slack: now; seeds may be "future"
    inclusive = _flag(args, "inclusive")

    def within(message: dict[str, Any]) -> bool:
        ts = Decimal(message["ts"])
        if inclusive:
            return oldest <= ts <= latest
        return oldest < ts < latest

    newest_first = [m for m in reversed(state.messages.get(channel["id"], [])) if within(m)]
    page, cursor = _page(newest_first, args, kind="next_ts", key="ts", default=100, maximum=999)
    return {
        "messages": page,
        "has_more": bool(cursor),
        "pin_count": 0,
        "response_metadata": {"next_cursor": cursor},
    }


def users_list(state: SlackState, args: dict[str, Any], request: web.Request) -> dict[str, Any]:
    page, cursor = _page(state.users, args, kind="user", default=1000, maximum=1000)
    return {
        "members": page,
        "cache_ts": int(state.now()),
        "response_metadata": {"next_cursor": cursor},
    }


def users_info(state: SlackState, args: dict[str, Any], request: web.Request) -> dict[str, Any]:
    user = next((u for u in state.users if u["id"] == args.get("user")), None)
    if user is None:
        raise SlackError("user_not_found")
    return {"user": user}


def chat_post_message(
    state: SlackState, args: dict[str, Any], request: web.Request
) -> dict[str, Any]:
    channel = _member_channel(state, args.get("channel"))
    if channel["is_archived"]:
        raise SlackError("is_archived")
    text = str(args.get("text") or "")
    blocks = args.get("blocks")
    if isinstance(blocks, str):
        try:
            blocks = orjson.loads(blocks) if blocks else None
        except orjson.JSONDecodeError:
            raise SlackError("invalid_blocks_format") from None
    if blocks is not None and not isinstance(blocks, list):
        raise SlackError("invalid_blocks_format")
    if not text and not blocks:
        raise SlackError("no_text")
    if len(text) > MAX_TEXT:
        raise SlackError("msg_too_long")
    message: dict[str, Any] = {
        "type": "message",
        "user": state.bot_user_id,
        "bot_id": state.bot_id,
        "app_id": state.app_id,
        "text": text,
        "ts": _next_ts(state, channel["id"]),
        "team": state.team["id"],
    }
    if blocks:
        message["blocks"] = blocks
    if args.get("thread_ts"):
        message["thread_ts"] = str(args["thread_ts"])
    state.messages[channel["id"]].append(message)
    return {"channel": channel["id"], "ts": message["ts"], "message": message}


def files_get_upload_url_external(
    state: SlackState, args: dict[str, Any], request: web.Request
) -> dict[str, Any]:
    for name in ("filename", "length"):
        if not args.get(name):
            raise _missing(name)
    length = _int(args, "length", 0)
    if length < 1:
        raise SlackError("invalid_arguments")
    file_id = "F" + secrets.token_hex(5).upper()
    state.files[file_id] = UploadedFile(
        id=file_id, name=str(args["filename"]), length=length, created=int(state.now())
    )
    return {"upload_url": f"{request.url.origin()}/upload/{file_id}", "file_id": file_id}


def files_complete_upload_external(
    state: SlackState, args: dict[str, Any], request: web.Request
) -> dict[str, Any]:
    entries = args.get("files")
    if not entries:
        raise _missing("files")
    if isinstance(entries, str):
        try:
            entries = orjson.loads(entries)
        except orjson.JSONDecodeError:
            raise SlackError("invalid_arguments") from None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise SlackError("invalid_arguments")
    channel = _member_channel(state, args["channel_id"]) if args.get("channel_id") else None
    uploads = [state.files.get(str(entry.get("id"))) for entry in entries]
    if any(upload is None or upload.data is None for upload in uploads):
        raise SlackError("file_not_found")
    shared = []
    for entry, upload in zip(entries, uploads, strict=True):
        assert upload is not None
        upload.title = str(entry.get("title") or upload.name)
        upload.completed = True
        if channel is not None:
            upload.channels.append(channel["id"])
        shared.append(_file_object(state, upload))
    if channel is not None:
        message = {
            "type": "message",
            "user": state.bot_user_id,
            "text": str(args.get("initial_comment") or ""),
            "files": shared,
            "upload": True,
            "ts": _next_ts(state, channel["id"]),
        }
        if args.get("thread_ts"):
            message["thread_ts"] = str(args["thread_ts"])
        state.messages[channel["id"]].append(message)
    return {"files": shared}


def _file_object(state: SlackState, upload: UploadedFile) -> dict[str, Any]:
    extension = upload.name.rpartition(".")[2].lower() if "." in upload.name else "binary"
    url = f"https://files.slack.com/files-pri/{state.team['id']}-{upload.id}/{upload.name}"
    return {
        "id": upload.id,
        "created": upload.created,
        "timestamp": upload.created,
        "name": upload.name,
        "title": upload.title,
        "mimetype": mimetypes.guess_type(upload.name)[0] or "application/octet-stream",
        "filetype": extension,
        "user": state.bot_user_id,
        "size": upload.length,
        "mode": "hosted",
        "is_external": False,
        "is_public": bool(upload.channels),
        "url_private": url,
        "url_private_download": url.replace("/files-pri/", "/files-pri/download/"),
        "permalink": f"https://{state.team['domain']}.slack.com/files/"
        f"{state.bot_user_id}/{upload.id}/{upload.name}",
        "channels": list(upload.channels),
    }


def oauth_v2_access(
    state: SlackState, args: dict[str, Any], request: web.Request
) -> dict[str, Any]:
    client_id, client_secret = args.get("client_id"), args.get("client_secret")
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise SlackError("invalid_client_id") from None
        client_id, _, client_secret = decoded.partition(":")
    if client_id != state.client_id:
        raise SlackError("invalid_client_id")
    if client_secret != state.client_secret:
        raise SlackError("bad_client_secret")
    if args.get("grant_type") != "refresh_token":
        raise SlackError("invalid_code")  # the fake issues no authorization codes
    spent = str(args.get("refresh_token") or "")
    if spent not in state.refresh_tokens:
        raise SlackError("invalid_refresh_token")
    state.refresh_tokens.discard(spent)
    grant = Grant(
        refresh_token=spent,
        access_token=f"xoxe.xoxb-1-{secrets.token_urlsafe(24)}",
        new_refresh_token=f"xoxe-1-{secrets.token_urlsafe(32)}",
        expires_at=state.now() + state.token_ttl,
    )
    state.tokens[grant.access_token] = grant.expires_at
    state.refresh_tokens.add(grant.new_refresh_token)
    state.grants.append(grant)
    return {
        "app_id": state.app_id,
        "access_token": grant.access_token,
        "token_type": "bot",
        "expires_in": state.token_ttl,
        "refresh_token": grant.new_refresh_token,
        "scope": state.scopes,
        "bot_user_id": state.bot_user_id,
        "team": {"id": state.team["id"], "name": state.team["name"]},
        "enterprise": None,
        "is_enterprise_install": False,
    }


Handler = Callable[[SlackState, dict[str, Any], web.Request], dict[str, Any]]


@dataclass(frozen=True)
class Method:
    handler: Handler
    json: bool = False
    """Whether Slack reads a JSON body for it (otherwise a JSON body's fields are ignored)."""
    auth: bool = True


METHODS: dict[str, Method] = {
    "auth.test": Method(auth_test),
    "conversations.list": Method(conversations_list),
    "conversations.history": Method(conversations_history),
    "users.list": Method(users_list),
    "users.info": Method(users_info),
    "chat.postMessage": Method(chat_post_message, json=True),
    "files.getUploadURLExternal": Method(files_get_upload_url_external),
    "files.completeUploadExternal": Method(files_complete_upload_external, json=True),
    "oauth.v2.access": Method(oauth_v2_access, auth=False),
}
TIERS: dict[str, Tier] = {
    "auth.test": "special",
    "conversations.list": 2,
    "conversations.history": 3,
    "users.list": 2,
    "users.info": 4,
    "chat.postMessage": "special",
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
    "oauth.v2.access": 4,
}
STATE = web.AppKey("slack_state", SlackState)


def _form_fields(content_type: str, body: bytes) -> dict[str, Any]:
    """The fields of a urlencoded or multipart/form-data body (multipart values stay bytes)."""
    if content_type.startswith("multipart/form-data"):
        head = f"Content-Type: {content_type}\r\n\r\n".encode()
        message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
        return {
            str(part.get_param("name", header="content-disposition")): part.get_payload(decode=True)
            for part in message.iter_parts()
        }
    return dict(parse_qsl(body.decode(errors="replace"), keep_blank_values=True))


async def _arguments(request: web.Request, method: Method) -> tuple[dict[str, Any], list[str]]:
    """The call's arguments (query string, then body) and the warnings Slack adds."""
    args: dict[str, Any] = dict(request.query)
    body = await request.read()
    content_type = request.headers.get("Content-Type", "")
    if not body:
        return args, []
    if request.content_type == "application/json":
        if not method.json:
            return args, []
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise SlackError("invalid_json") from None
        if not isinstance(payload, dict):
            raise SlackError("invalid_json")
        payload.pop("token", None)  # JSON callers must authenticate with the header
        args.update(payload)
        return args, [] if request.charset else ["missing_charset"]
    for key, value in _form_fields(content_type, body).items():
        args[key] = value.decode(errors="replace") if isinstance(value, bytes) else value
    return args, []


def _authenticate(state: SlackState, request: web.Request, args: dict[str, Any]) -> None:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    token = credentials.strip() if scheme.lower() == "bearer" else str(args.get("token") or "")
    if not token:
        raise SlackError("not_authed")
    expiry = state.tokens.get(token)
    if expiry is None:
        raise SlackError("invalid_auth")
    if expiry <= state.now():
        raise SlackError("token_expired")


async def _call(request: web.Request) -> web.Response:
    state = request.app[STATE]
    name = request.match_info["method"]
    method = METHODS.get(name)
    if method is None:
        return web.json_response({"ok": False, "error": "unknown_method", "req_method": name})
    if state.rate_limited.get(name, 0) > 0:
        state.rate_limited[name] -= 1
        retry_after = RETRY_AFTER[state.tiers.get(name, 3)]
        return web.json_response(
            {"ok": False, "error": "ratelimited"},
            status=429,
            headers={"Retry-After": str(retry_after)},
        )
    warnings: list[str] = []
    try:
        args, warnings = await _arguments(request, method)
        if method.auth:
            _authenticate(state, request, args)
        answer: dict[str, Any] = {"ok": True, **method.handler(state, args, request)}
    except SlackError as error:
        answer = {"ok": False, "error": error.code, **error.extra}
    if warnings:
        answer["warning"] = ",".join(warnings)
        answer.setdefault("response_metadata", {})["warnings"] = warnings
    return web.json_response(answer)


async def _upload(request: web.Request) -> web.Response:
    """The upload URL: raw bytes, or a multipart form with a `file` field."""
    upload = request.app[STATE].files.get(request.match_info["file_id"])
    if upload is None or upload.completed:
        return web.Response(status=404, text="Not Found")
    data = await request.read()
    if request.content_type == "multipart/form-data":
        data = _form_fields(request.headers["Content-Type"], data).get("file", b"")
    if len(data) != upload.length:
        return web.Response(
            status=400, text=f"Bad Request - declared {upload.length} bytes, got {len(data)}"
        )
    upload.data = data
    return web.Response(text=f"OK - {len(data)}")


def create_slack_app(state: SlackState) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[STATE] = state
    app.router.add_route("GET", "/api/{method}", _call)
    app.router.add_route("POST", "/api/{method}", _call)
    app.router.add_post("/upload/{file_id}", _upload)
    return app
