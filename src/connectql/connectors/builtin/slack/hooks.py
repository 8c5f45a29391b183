"""Slack: bot tokens (static or rotating through oauth.v2.access) and the three-step file
upload (files.getUploadURLExternal, upload the bytes, files.completeUploadExternal)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectql.connectors.auth import AuthContext, AuthHooks, AuthStrategy
from connectql.connectors.auth.bearer import BearerStrategy
from connectql.connectors.auth.oauth2 import OAuth2Strategy
from connectql.errors import UpstreamError
from connectql.spec.models import BearerAuth, OAuth2Auth


def slack_auth(options: Mapping[str, str], ctx: AuthContext) -> AuthStrategy:
    """A bot token; with a refresh token too, a rotating one refreshed when Slack says
    `token_expired` (or `invalid_auth`), keeping each rotated refresh token."""
    token = options.get("token") or ""
    if not options.get("refresh_token"):
        return BearerStrategy(BearerAuth(type="bearer", token=token), ctx)
    strategy = OAuth2Strategy(
        OAuth2Auth(
            type="oauth2",
            grant="refresh_token",
            token_url=options["token_url"],
            client_id=options.get("client_id", ""),
            client_secret=options.get("client_secret") or None,
            refresh_token=options["refresh_token"],
        ),
        ctx,
    )
    if token:
        strategy.access_token = token  # used until Slack refuses it
    return strategy


async def upload_file(connector: Any, operation: str, args: dict[str, Any]) -> Any:
    data = str(args["content"]).encode()
    ticket = await connector.call(
        operation,
        "GET",
        "/files.getUploadURLExternal",
        params={"filename": args["filename"], "length": len(data)},
    )
    await connector.call(operation, "POST", ticket["upload_url"], data=data)
    files = [{"id": ticket["file_id"], "title": args.get("title") or args["filename"]}]
    done = await connector.call(
        operation,
        "POST",
        "/files.completeUploadExternal",
        json={"files": files, "channel_id": args.get("channel")},
    )
    uploaded = done.get("files") if isinstance(done, dict) else None
    if not uploaded:
        raise UpstreamError("Slack completed the upload without a file", operation=operation)
    return uploaded[0]


def register(hooks: AuthHooks) -> None:
    hooks.register("slack_auth", slack_auth)
    hooks.register_operation("slack_upload_file", upload_file)
