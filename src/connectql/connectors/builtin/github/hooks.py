"""GitHub auth: a personal/bearer token, or a GitHub App — an RS256 JWT (signed with the
app's private key) exchanged for an installation token, refreshed before it expires."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping

import jwt
import orjson
from multidict import CIMultiDict

from connectql.connectors.auth import AuthContext, AuthHooks, AuthStrategy
from connectql.connectors.http import HttpRequest
from connectql.errors import AuthError, ConfigError

API_VERSION = "2022-11-28"
REFRESH_MARGIN = 300.0
"""Seconds before an installation token's expiry at which a new one is fetched."""


class GitHubAuth(AuthStrategy):
    def __init__(self, options: Mapping[str, str], ctx: AuthContext) -> None:
        self._ctx = ctx
        self._token = options.get("token") or ""
        self._app_id = options.get("app_id") or ""
        self._installation = options.get("installation_id") or ""
        self._key = (options.get("private_key") or "").replace("\\n", "\n")
        self._api = (options.get("base_url") or "https://api.github.com").rstrip("/")
        if not self._token and not (self._app_id and self._installation and self._key):
            raise ConfigError(
                f"connector {ctx.connector!r}: set token, or app_id + installation_id + "
                "private_key for a GitHub App"
            )
        self.installation_token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def apply(self, request: HttpRequest) -> None:
        if self._token:
            request.headers["Authorization"] = f"Bearer {self._token}"
            return
        if self.installation_token is None or self._ctx.clock.time() >= self._expires_at:
            async with self._lock:
                if self.installation_token is None or self._ctx.clock.time() >= self._expires_at:
                    await self._exchange()
        request.headers["Authorization"] = f"Bearer {self.installation_token}"

    async def refresh(self, rejected: HttpRequest) -> bool:
        if self._token:
            return False
        async with self._lock:
            if rejected.headers.get("Authorization") == f"Bearer {self.installation_token}":
                await self._exchange()
        return True

    def secrets(self) -> list[str]:
        return [s for s in (self._token, self._key, self.installation_token) if s]

    async def _exchange(self) -> None:
        now = int(self._ctx.clock.time())
        # iat 60 s in the past allows for clock drift; GitHub caps a JWT's life at 10 minutes
        claims = {"iat": now - 60, "exp": now + 540, "iss": self._app_id}
        try:
            token = jwt.encode(claims, self._key, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError):
            raise AuthError(
                "the GitHub App private key is not a valid RSA key in PEM form",
                connector=self._ctx.connector,
            ) from None
        headers: CIMultiDict[str] = CIMultiDict(
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
            }
        )
        url = f"{self._api}/app/installations/{self._installation}/access_tokens"
        response = await self._ctx.send(HttpRequest("POST", url, [], headers, b""))
        try:
            body = orjson.loads(response.body)
        except orjson.JSONDecodeError:
            body = {}
        if response.status != 201 or not isinstance(body, dict) or "token" not in body:
            raise AuthError(
                f"GitHub refused the app's installation token request (HTTP {response.status})",
                connector=self._ctx.connector,
                status=response.status,
            )
        self.installation_token = str(body["token"])
        expires = dt.datetime.fromisoformat(str(body["expires_at"]).replace("Z", "+00:00"))
        self._expires_at = expires.timestamp() - REFRESH_MARGIN


def register(hooks: AuthHooks) -> None:
    hooks.register("github_auth", GitHubAuth)
