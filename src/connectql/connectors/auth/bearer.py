"""A static bearer token (or any `scheme token` in a header)."""

from __future__ import annotations

from connectql.connectors.auth.base import AuthContext, AuthStrategy
from connectql.connectors.http import HttpRequest
from connectql.spec.models import BearerAuth


class BearerStrategy(AuthStrategy):
    def __init__(self, spec: BearerAuth, ctx: AuthContext) -> None:
        self._token = str(ctx.render(spec.token))
        self._header = spec.header
        self._value = f"{spec.scheme} {self._token}" if spec.scheme else self._token

    async def apply(self, request: HttpRequest) -> None:
        request.headers[self._header] = self._value

    def secrets(self) -> list[str]:
        return [self._token]
