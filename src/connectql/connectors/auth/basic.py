"""HTTP basic auth (RFC 7617)."""

from __future__ import annotations

from aiohttp import encode_basic_auth

from connectql.connectors.auth.base import AuthContext, AuthStrategy
from connectql.connectors.http import HttpRequest
from connectql.spec.models import BasicAuth


class BasicStrategy(AuthStrategy):
    def __init__(self, spec: BasicAuth, ctx: AuthContext) -> None:
        self._password = str(ctx.render(spec.password))
        self._value = encode_basic_auth(str(ctx.render(spec.username)), self._password)

    async def apply(self, request: HttpRequest) -> None:
        request.headers["Authorization"] = self._value

    def secrets(self) -> list[str]:
        return [self._password, self._value.split(" ", 1)[1]]
