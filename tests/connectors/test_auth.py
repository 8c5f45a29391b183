"""Every auth type against a fake that checks credentials the way real servers do."""

from __future__ import annotations

import base64
import hmac
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from connectql.connectors.auth import AuthContext, AuthHooks, AuthStrategy
from connectql.connectors.connector import Connector
from connectql.connectors.http import HttpRequest
from connectql.errors import AuthError, ConfigError
from connectql.spec.models import ConnectorSpec
from connectql.testing import FakeClock, FakeUpstream

API_KEY = "key-0123456789"
TOKEN = "tok-abcdefghij"
USER, PASSWORD = "ada", "pa:ss-word-1"
CLIENT_ID, CLIENT_SECRET = "client-1", "client-secret-xyz"
ACCESS_KEY, SECRET_KEY = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


class OAuthServer:
    """A token endpoint (RFC 6749) that expires and rotates what it issues."""

    def __init__(self, clock: FakeClock, expires_in: int = 3600, rotate: bool = True) -> None:
        self.clock = clock
        self.expires_in = expires_in
        self.rotate = rotate
        self.valid_access: dict[str, float] = {}
        self.valid_refresh = {"refresh-0"}
        self.grants: list[dict[str, str]] = []
        self.issued = 0

    async def token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.grants.append({k: str(v) for k, v in form.items()})
        if "client_id" not in form and request.headers.get("Authorization", "").startswith(
            "Basic "
        ):
            raw = base64.b64decode(request.headers["Authorization"][6:]).decode()
            form["client_id"], _, form["client_secret"] = raw.partition(":")
        if form.get("client_id") != CLIENT_ID:
            return web.json_response({"error": "invalid_client"}, status=401)
        grant = form.get("grant_type")
        if grant == "client_credentials":
            if form.get("client_secret") != CLIENT_SECRET:
                return web.json_response({"error": "invalid_client"}, status=401)
        elif grant == "refresh_token":
            refresh = str(form.get("refresh_token"))
            if refresh not in self.valid_refresh:
                return web.json_response({"error": "invalid_grant"}, status=400)
            if self.rotate:
                self.valid_refresh.discard(refresh)
        else:
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        self.issued += 1
        access = f"access-{self.issued}"
        self.valid_access[access] = self.clock.time() + self.expires_in
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        }
        if grant == "refresh_token" and self.rotate:
            body["refresh_token"] = f"refresh-{self.issued}"
            self.valid_refresh.add(body["refresh_token"])
        return web.json_response(body)

    def revoke_all(self) -> None:
        self.valid_access.clear()

    def accepts(self, header: str) -> bool:
        token = header.removeprefix("Bearer ")
        expiry = self.valid_access.get(token)
        return expiry is not None and self.clock.time() < expiry


def sigv4_valid(request: web.Request, body: bytes) -> bool:
    """Recompute the SigV4 signature of a received request, as AWS does."""
    given = request.headers.get("Authorization", "")
    if not given.startswith("AWS4-HMAC-SHA256 "):
        return False
    signed = given.split("SignedHeaders=")[1].split(",")[0].split(";")
    headers = {h: request.headers[h] for h in signed if h in request.headers}
    aws = AWSRequest(method=request.method, url=str(request.url), data=body, headers=headers)
    aws.context["timestamp"] = request.headers["X-Amz-Date"]
    signer = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "execute-api", "eu-west-1")
    canonical = signer.canonical_request(aws)
    string_to_sign = signer.string_to_sign(aws, canonical)
    expected = signer.signature(string_to_sign, aws)
    return hmac.compare_digest(given.split("Signature=")[1], expected)


@pytest.fixture
async def api() -> AsyncIterator[tuple[FakeUpstream, OAuthServer, FakeClock]]:
    clock = FakeClock()
    oauth = OAuthServer(clock)

    async def check(request: web.Request) -> web.Response:
        scheme = request.match_info["scheme"]
        headers = request.headers
        body = await request.read()
        ok = {
            "none": True,
            "header": headers.get("X-Api-Key") == API_KEY,
            "query": request.query.get("api_key") == API_KEY,
            "bearer": headers.get("Authorization") == f"Bearer {TOKEN}",
            "basic": headers.get("Authorization")
            == "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
            "oauth": oauth.accepts(headers.get("Authorization", "")),
            "sigv4": sigv4_valid(request, body),
            "custom": headers.get("X-Signature") == f"signed:{request.path}:{API_KEY}",
        }[scheme]
        if not ok:
            return web.json_response(
                {"message": "Bad credentials"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return web.json_response({"id": request.match_info["id"], "scheme": scheme})

    up = FakeUpstream()
    up.app.router.add_route("*", "/{scheme}/things/{id}", check)
    up.app.router.add_post("/oauth/token", oauth.token)
    async with up:
        yield up, oauth, clock


def spec_for(scheme: str, auth: Mapping[str, Any]) -> ConnectorSpec:
    return ConnectorSpec.model_validate(
        {
            "connector": {"name": "secure"},
            "config": {
                "base_url": {"required": True},
                "secret": {"secret": True},
                "other": {"secret": True},
            },
            "source": {"base_url": "{config.base_url}", "auth": dict(auth)},
            "types": {"Thing": {"fields": {"id": "ID!", "scheme": "String"}}},
            "operations": {
                "thing": {
                    "args": {"id": "ID!"},
                    "request": {"path": f"/{scheme}/things/{{args.id}}"},
                    "response": {"type": "Thing"},
                },
                "touch": {
                    "kind": "mutation",
                    "args": {"id": "ID!"},
                    "request": {
                        "method": "POST",
                        "path": f"/{scheme}/things/{{args.id}}",
                        "query": {"note": "a b"},
                        "body": {"id": "{args.id}"},
                    },
                    "response": {"type": "Thing"},
                },
            },
        }
    )


STATIC = [
    ("none", {"type": "none"}, {}, None),
    (
        "header",
        {"type": "api_key", "key": "{config.secret}", "name": "X-Api-Key"},
        {"secret": API_KEY},
        {"secret": "wrong-key"},
    ),
    (
        "query",
        {"type": "api_key", "key": "{config.secret}", "name": "api_key", "in": "query"},
        {"secret": API_KEY},
        {"secret": "wrong-key"},
    ),
    (
        "bearer",
        {"type": "bearer", "token": "{config.secret}"},
        {"secret": TOKEN},
        {"secret": "nope"},
    ),
    (
        "basic",
        {"type": "basic", "username": USER, "password": "{config.secret}"},
        {"secret": PASSWORD},
        {"secret": "wrong-password"},
    ),
    (
        "sigv4",
        {
            "type": "aws_sigv4",
            "region": "eu-west-1",
            "service": "execute-api",
            "access_key_id": ACCESS_KEY,
            "secret_access_key": "{config.secret}",
        },
        {"secret": SECRET_KEY},
        {"secret": "not-the-secret-key"},
    ),
]


@pytest.mark.parametrize(
    ("scheme", "auth", "good", "bad"), STATIC, ids=[case[0] for case in STATIC]
)
async def test_static_credentials_are_accepted_and_wrong_ones_are_typed_errors(
    api: tuple[FakeUpstream, OAuthServer, FakeClock],
    scheme: str,
    auth: dict[str, Any],
    good: dict[str, str],
    bad: dict[str, str] | None,
) -> None:
    up, _, clock = api
    spec = spec_for(scheme, auth)
    connector = Connector(spec, {"base_url": up.url, **good}, clock=clock)
    assert await connector.execute("thing", {"id": "1"}) == {"id": "1", "scheme": scheme}
    # a body and a query string are covered by the credentials too (SigV4 signs both)
    assert await connector.execute("touch", {"id": "2"}) == {"id": "2", "scheme": scheme}
    await connector.stop()
    if bad is None:
        return
    wrong = Connector(spec, {"base_url": up.url, **bad}, clock=clock)
    with pytest.raises(AuthError) as caught:
        await wrong.execute("thing", {"id": "1"})
    await wrong.stop()
    assert caught.value.status == 401
    assert caught.value.extensions()["code"] == "UNAUTHENTICATED"
    assert bad["secret"] not in str(caught.value)


def oauth_auth(grant: str, **extra: Any) -> dict[str, Any]:
    auth: dict[str, Any] = {
        "type": "oauth2",
        "grant": grant,
        "token_url": "{config.base_url}/oauth/token",
        "client_id": CLIENT_ID,
    }
    if grant == "client_credentials":
        auth["client_secret"] = "{config.secret}"
    else:
        auth["refresh_token"] = "{config.other}"
    return {**auth, **extra}


async def test_oauth_client_credentials_caches_the_token_until_it_expires(
    api: tuple[FakeUpstream, OAuthServer, FakeClock],
) -> None:
    up, oauth, clock = api
    connector = Connector(
        spec_for("oauth", oauth_auth("client_credentials")),
        {"base_url": up.url, "secret": CLIENT_SECRET},
        clock=clock,
    )
    for i in range(3):
        await connector.execute("thing", {"id": str(i)})
    assert oauth.issued == 1
    clock.advance(3600 - 29)  # within the 30 s expiry margin: refreshed before it lapses
    await connector.execute("thing", {"id": "4"})
    assert oauth.issued == 2
    assert up.count("GET") == 4  # no call was refused on the way
    await connector.stop()
    assert "access-2" in connector.secrets()
    assert CLIENT_SECRET in connector.secrets()


async def test_oauth_refreshes_once_on_401(
    api: tuple[FakeUpstream, OAuthServer, FakeClock],
) -> None:
    up, oauth, clock = api
    connector = Connector(
        spec_for("oauth", oauth_auth("client_credentials", client_auth="basic")),
        {"base_url": up.url, "secret": CLIENT_SECRET},
        clock=clock,
    )
    await connector.execute("thing", {"id": "1"})
    oauth.revoke_all()  # the server forgets the token before its expiry
    assert await connector.execute("thing", {"id": "2"}) == {"id": "2", "scheme": "oauth"}
    assert oauth.issued == 2
    assert up.count("GET", "/oauth/things/2") == 2  # refused once, then sent again
    assert "client_secret" not in oauth.grants[-1]  # sent by HTTP basic instead
    assert "client_id" not in oauth.grants[-1]
    await connector.stop()


async def test_oauth_refresh_token_rotation_is_kept_for_the_next_refresh(
    api: tuple[FakeUpstream, OAuthServer, FakeClock],
) -> None:
    up, oauth, clock = api
    connector = Connector(
        spec_for("oauth", oauth_auth("refresh_token")),
        {"base_url": up.url, "other": "refresh-0"},
        clock=clock,
    )
    await connector.execute("thing", {"id": "1"})
    clock.advance(3600)  # expired
    await connector.execute("thing", {"id": "2"})
    oauth.revoke_all()
    await connector.execute("thing", {"id": "3"})  # 401, then a refresh
    used = [g["refresh_token"] for g in oauth.grants]
    assert used == ["refresh-0", "refresh-1", "refresh-2"]  # each rotated token used next
    assert "refresh-0" not in oauth.valid_refresh
    await connector.stop()


async def test_oauth_refused_grant_is_a_typed_error_without_secrets(
    api: tuple[FakeUpstream, OAuthServer, FakeClock],
) -> None:
    up, _, clock = api
    connector = Connector(
        spec_for("oauth", oauth_auth("refresh_token")),
        {"base_url": up.url, "other": "refresh-revoked-123"},
        clock=clock,
    )
    with pytest.raises(AuthError) as caught:
        await connector.execute("thing", {"id": "1"})
    await connector.stop()
    assert "invalid_grant" in str(caught.value)
    assert "refresh-revoked-123" not in str(caught.value)
    assert up.count("GET") == 0


async def test_concurrent_calls_share_one_token_fetch(
    api: tuple[FakeUpstream, OAuthServer, FakeClock],
) -> None:
    import asyncio

    up, oauth, clock = api
    connector = Connector(
        spec_for("oauth", oauth_auth("client_credentials")),
        {"base_url": up.url, "secret": CLIENT_SECRET},
        clock=clock,
    )
    await asyncio.gather(*(connector.execute("thing", {"id": str(i)}) for i in range(10)))
    assert oauth.issued == 1
    await connector.stop()


class SigningHook(AuthStrategy):
    """A custom scheme: sign the path with the key."""

    def __init__(self, options: Mapping[str, str], ctx: AuthContext) -> None:
        self.key = options["key"]

    async def apply(self, request: HttpRequest) -> None:
        path = request.url.split("//", 1)[1].split("/", 1)[1]
        request.headers["X-Signature"] = f"signed:/{path}:{self.key}"

    def secrets(self) -> list[str]:
        return [self.key]


async def test_custom_auth_uses_a_registered_hook(
    api: tuple[FakeUpstream, OAuthServer, FakeClock],
) -> None:
    up, _, clock = api
    hooks = AuthHooks()
    hooks.register("path_signature", SigningHook)
    spec = spec_for(
        "custom",
        {"type": "custom", "hook": "path_signature", "options": {"key": "{config.secret}"}},
    )
    connector = Connector(spec, {"base_url": up.url, "secret": API_KEY}, clock=clock, hooks=hooks)
    assert await connector.execute("thing", {"id": "9"}) == {"id": "9", "scheme": "custom"}
    assert API_KEY in connector.secrets()
    await connector.stop()
    with pytest.raises(ConfigError, match="auth hook 'path_signature' is not registered"):
        Connector(spec, {"base_url": up.url, "secret": API_KEY}, clock=clock)
