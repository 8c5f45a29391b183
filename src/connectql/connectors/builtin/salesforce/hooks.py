"""Salesforce sign-in: the OAuth2 JWT bearer flow (RFC 7523, an RS256 assertion signed with
the connected app's key) or a refresh token. The token response names the org's
`instance_url`; every call goes there instead of the login URL the spec's base_url starts with.
Salesforce access tokens carry no expiry: one is kept until a call is refused with 401
INVALID_SESSION_ID, then a new one is fetched once and the call sent again."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import jwt

from connectql.connectors.auth import AuthContext, AuthHooks
from connectql.connectors.auth.oauth2 import TokenStrategy, error_reason, post_form
from connectql.connectors.http import HttpRequest
from connectql.errors import AuthError, ConfigError

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME = 180
"""Seconds an assertion is valid; Salesforce accepts at most 3 minutes."""


class SalesforceAuth(TokenStrategy):
    def __init__(self, options: Mapping[str, str], ctx: AuthContext) -> None:
        super().__init__(ctx)
        self._login = (options.get("login_url") or "https://login.salesforce.com").rstrip("/")
        self._client_id = options.get("client_id") or ""
        self._client_secret = options.get("client_secret") or ""
        self._username = options.get("username") or ""
        self._key = (options.get("private_key") or "").replace("\\n", "\n")
        self._refresh_token = options.get("refresh_token") or ""
        self._audience = (options.get("audience") or self._login).rstrip("/")
        if not self._client_id or not ((self._username and self._key) or self._refresh_token):
            raise ConfigError(
                f"connector {ctx.connector!r}: set client_id with username + private_key "
                "(JWT bearer flow) or with refresh_token"
            )
        self.instance_url: str | None = None

    async def apply(self, request: HttpRequest) -> None:
        await super().apply(request)
        assert self.instance_url is not None
        if request.url.startswith(self._login + "/"):
            request.url = self.instance_url + request.url[len(self._login) :]

    def hosts(self) -> frozenset[str]:
        return frozenset([urlsplit(self.instance_url).netloc]) if self.instance_url else frozenset()

    def secrets(self) -> list[str]:
        held = (self._client_secret, self._key, self._refresh_token, self.access_token)
        return [s for s in held if s]

    async def _fetch(self) -> None:
        form: dict[str, Any]
        if self._key and self._username:
            form = {"grant_type": JWT_BEARER, "assertion": self._assertion()}
        else:
            form = {
                "grant_type": "refresh_token",
                "refresh_token": self._refresh_token,
                "client_id": self._client_id,
            }
            if self._client_secret:
                form["client_secret"] = self._client_secret
        url = f"{self._login}/services/oauth2/token"
        status, payload = await post_form(self._ctx, url, form)
        token, instance = payload.get("access_token"), payload.get("instance_url")
        if status != 200 or not isinstance(token, str) or not isinstance(instance, str):
            raise AuthError(
                f"Salesforce refused the sign-in: HTTP {status}{error_reason(payload)}",
                connector=self._ctx.connector,
                status=status,
            )
        if urlsplit(instance).scheme not in ("http", "https") or not urlsplit(instance).netloc:
            raise AuthError(
                "Salesforce's token response named no usable instance_url",
                connector=self._ctx.connector,
            )
        self.access_token = token
        self.instance_url = instance.rstrip("/")
        self.fetches += 1

    def _assertion(self) -> str:
        now = int(self._ctx.clock.time())
        claims = {
            "iss": self._client_id,
            "sub": self._username,
            "aud": self._audience,
            "exp": now + ASSERTION_LIFETIME,
        }
        try:
            return jwt.encode(claims, self._key, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError):
            raise AuthError(
                "the Salesforce private_key is not a valid RSA key in PEM form",
                connector=self._ctx.connector,
            ) from None


def register(hooks: AuthHooks) -> None:
    hooks.register("salesforce_auth", SalesforceAuth)
