"""Google Cloud: an API key or a service account's JWT bearer grant (RS256, token cached), and
long-running operations polled until they are done."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connectql.connectors.auth import AuthContext, AuthHooks, AuthStrategy
from connectql.connectors.auth.api_key import ApiKeyStrategy
from connectql.connectors.auth.oauth2 import TokenStrategy, error_reason, post_form
from connectql.errors import AuthError, ConfigError, UpstreamError, UpstreamTimeout
from connectql.spec.models import ApiKeyAuth

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 (a URL)
ASSERTION_LIFETIME = 3600  # Google's maximum
EXPIRY_MARGIN = 60.0


def _rsa_key(pem: str, connector: str) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(
            f"connector {connector!r}: the service account's private_key is not an RSA "
            "private key in PEM"
        )
    return key


class ServiceAccountStrategy(TokenStrategy):
    """OAuth2 JWT bearer grant (RFC 7523) with a service account key, as Google's libraries do:
    the token is cached until shortly before it expires and fetched again once on a 401."""

    def __init__(self, key_json: str, scopes: str, ctx: AuthContext) -> None:
        super().__init__(ctx)
        try:
            info = orjson.loads(key_json)
            self._email = str(info["client_email"])
            self._private_key = str(info["private_key"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            # never echo the text: it holds the private key
            raise ConfigError(
                f"connector {ctx.connector!r}: service_account_json is not a service account "
                "JSON key (it needs client_email and private_key)"
            ) from None
        self._signing_key = _rsa_key(self._private_key, ctx.connector)
        self._key_id = str(info.get("private_key_id") or "") or None
        self._token_uri = str(info.get("token_uri") or GOOGLE_TOKEN_URI)
        self._scopes = " ".join(scopes.split())
        self._assertion: str | None = None

    def secrets(self) -> list[str]:
        held = (self._private_key, self._assertion, self.access_token)
        return [s for s in held if s]

    async def _fetch(self) -> None:
        now = int(self._ctx.clock.time())
        claims = {
            "iss": self._email,
            "scope": self._scopes,
            "aud": self._token_uri,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
        }
        self._assertion = jwt.encode(
            claims,
            self._signing_key,
            algorithm="RS256",
            headers={"kid": self._key_id} if self._key_id else None,
        )
        form = {"grant_type": JWT_BEARER, "assertion": self._assertion}
        status, payload = await post_form(self._ctx, self._token_uri, form)
        token = payload.get("access_token")
        if status != 200 or not isinstance(token, str) or not token:
            raise AuthError(
                f"the token endpoint refused the service account's JWT grant: HTTP "
                f"{status}{error_reason(payload)}",
                connector=self._ctx.connector,
                status=status,
            )
        self.access_token = token
        self.fetches += 1
        expires_in = payload.get("expires_in")
        seconds = float(expires_in) if isinstance(expires_in, (int, float)) else 3600.0
        self._expires_at = self._ctx.clock.time() + seconds - min(EXPIRY_MARGIN, seconds / 2)


def google_cloud_auth(options: Mapping[str, str], ctx: AuthContext) -> AuthStrategy:
    """A service account key (its JSON text, or its file) when configured, else the API key."""
    key_json = options.get("service_account_json") or ""
    if not key_json.strip() and options.get("service_account_file"):
        try:
            key_json = Path(options["service_account_file"]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"connector {ctx.connector!r}: cannot read service_account_file "
                f"({type(exc).__name__})"
            ) from None
    if key_json.strip():
        return ServiceAccountStrategy(key_json, options.get("scopes") or "", ctx)
    if options.get("api_key"):
        spec = ApiKeyAuth(type="api_key", key="{config.api_key}", name="X-Goog-Api-Key")
        return ApiKeyStrategy(spec, ctx)
    raise ConfigError(f"connector {ctx.connector!r}: set api_key or service_account_json")


async def long_running(connector: Any, operation: str, args: dict[str, Any]) -> Any:
    """Start the operation's request, then GET `/v1/operations/{name}` under the same root
    until it is done; its `response` is shaped as the operation's result."""
    op = connector.operation(operation)
    request = connector.build_request(operation, op.request, {"args": args})
    body = orjson.loads(request.body) if request.body else None
    started = await connector.call(operation, request.method, request.url, json=body)
    name = started.get("name") if isinstance(started, dict) else None
    if not isinstance(name, str) or not name:
        raise UpstreamError(
            "the upstream started no operation", connector=connector.name, operation=operation
        )
    config = connector.requester.config
    interval = float(config.get("poll_interval") or 1.0)
    deadline = connector.clock.monotonic() + float(config.get("poll_timeout") or 900)
    url = f"{connector.requester.root(op.request)}/v1/operations/{quote(name, safe='')}"
    state: Any = started
    while not (isinstance(state, dict) and state.get("done")):
        if connector.clock.monotonic() + interval > deadline:
            raise UpstreamTimeout(
                f"operation {name} was not done within poll_timeout",
                connector=connector.name,
                operation=operation,
            )
        await connector.clock.sleep(interval)
        interval = min(interval * 1.5, 10.0)
        state = await connector.call(operation, "GET", url)
    error = state.get("error")
    if isinstance(error, dict):
        raise UpstreamError(
            connector.redact(str(error.get("message") or "the operation failed")),
            connector=connector.name,
            operation=operation,
        )
    return connector.record_selector.shape(op, state.get("response") or {})


def register(hooks: AuthHooks) -> None:
    hooks.register("google_cloud_auth", google_cloud_auth)
    hooks.register_operation("google_cloud_long_running", long_running)
