"""OAuth 2.0 access tokens: client-credentials and refresh-token grants (RFC 6749 §4.4, §6),
and `TokenStrategy`, the cached bearer token other grants build on (the JWT bearer grants of
the google_cloud and salesforce hooks).

The token is cached until `expires_in` minus a margin, fetched by one caller while the others
wait, fetched again once when the upstream answers 401, and a refresh token the server rotates
replaces the old one for the next refresh.
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from typing import Any

import orjson
from aiohttp import encode_basic_auth
from multidict import CIMultiDict

from connectql.connectors.auth.base import AuthContext, AuthStrategy
from connectql.connectors.codecs import FORM_TYPE, encode_body
from connectql.connectors.http import HttpRequest
from connectql.errors import AuthError
from connectql.spec.models import OAuth2Auth


class TokenStrategy(AuthStrategy):
    """A bearer token from a token endpoint: kept until `_expires_at` (None: until the upstream
    refuses it), fetched by one caller while the others wait, fetched again once when the
    upstream answers 401. Subclasses fetch it (`_fetch`, usually through `post_form`)."""

    def __init__(self, ctx: AuthContext) -> None:
        self._ctx = ctx
        self.access_token: str | None = None
        self._expires_at: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0
        """How many times a token was obtained (for metrics and tests)."""

    def _valid(self) -> bool:
        if self.access_token is None:
            return False
        return self._expires_at is None or self._ctx.clock.time() < self._expires_at

    async def apply(self, request: HttpRequest) -> None:
        if not self._valid():
            async with self._lock:
                if not self._valid():
                    await self._fetch()
        request.headers["Authorization"] = f"Bearer {self.access_token}"

    async def refresh(self, rejected: HttpRequest) -> bool:
        async with self._lock:
            if rejected.headers.get("Authorization") != f"Bearer {self.access_token}":
                return True  # another caller already replaced the rejected token
            await self._fetch()
        return True

    @abstractmethod
    async def _fetch(self) -> None:
        """Obtain `access_token` (and `_expires_at`, if the endpoint says)."""


async def post_form(
    ctx: AuthContext, url: str, form: dict[str, Any], headers: CIMultiDict[str] | None = None
) -> tuple[int, dict[str, Any]]:
    """POST `form` to a token endpoint: its status and JSON object (empty if it sent none)."""
    body, content_type = encode_body(form, "form")
    assert content_type == FORM_TYPE
    sent: CIMultiDict[str] = CIMultiDict({"Accept": "application/json"})
    sent.update(headers or {})
    sent["Content-Type"] = content_type
    response = await ctx.send(HttpRequest("POST", url, [], sent, body))
    payload = _json_or_none(response.body)
    return response.status, payload if isinstance(payload, dict) else {}


def error_reason(payload: dict[str, Any]) -> str:
    """` (invalid_grant)`: a token endpoint's `error` code, if it is plain ASCII text (it is
    quoted in messages, which never carry more of the answer)."""
    code = payload.get("error")
    return f" ({code})" if isinstance(code, str) and code.isascii() else ""


class OAuth2Strategy(TokenStrategy):
    def __init__(self, spec: OAuth2Auth, ctx: AuthContext) -> None:
        super().__init__(ctx)
        self._spec = spec
        self._token_url = str(ctx.render(spec.token_url))
        self._client_id = str(ctx.render(spec.client_id))
        self._client_secret = str(ctx.render(spec.client_secret)) if spec.client_secret else None
        self.refresh_token = str(ctx.render(spec.refresh_token)) if spec.refresh_token else None

    def secrets(self) -> list[str]:
        return [s for s in (self._client_secret, self.refresh_token, self.access_token) if s]

    async def _fetch(self) -> None:
        spec = self._spec
        form: dict[str, Any] = {"grant_type": spec.grant}
        if spec.grant == "refresh_token":
            form["refresh_token"] = self.refresh_token
        if spec.scopes:
            form["scope"] = " ".join(spec.scopes)
        if spec.audience:
            form["audience"] = spec.audience
        headers: CIMultiDict[str] = CIMultiDict()
        if spec.client_auth == "basic":
            headers["Authorization"] = encode_basic_auth(self._client_id, self._client_secret or "")
        else:
            form["client_id"] = self._client_id
            if self._client_secret:
                form["client_secret"] = self._client_secret
        status, payload = await post_form(self._ctx, self._token_url, form, headers)
        if status != 200:
            raise AuthError(
                f"the token endpoint refused the {spec.grant} grant: HTTP "
                f"{status}{error_reason(payload)}",
                connector=self._ctx.connector,
                status=status,
            )
        token = payload.get("access_token")
        if not isinstance(token, str) or not token:
            # Slack answers 200 {"ok": false, "error": ...}
            raise AuthError(
                f"the token endpoint answered without an access_token{error_reason(payload)}",
                connector=self._ctx.connector,
            )
        self.access_token = token
        self.fetches += 1
        expires_in = payload.get("expires_in")
        if isinstance(expires_in, (int, float, str)) and str(expires_in).strip():
            try:
                seconds = float(expires_in)
            except ValueError:
                seconds = None
            if seconds is not None:
                margin = min(spec.expiry_margin, seconds / 2)
                self._expires_at = self._ctx.clock.time() + seconds - margin
        else:
            self._expires_at = None
        rotated = payload.get("refresh_token")
        if isinstance(rotated, str) and rotated:
            self.refresh_token = rotated


def _json_or_none(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
