"""An API key in a header or a query parameter."""

from __future__ import annotations

from connectql.connectors.auth.base import AuthContext, AuthStrategy
from connectql.connectors.http import HttpRequest
from connectql.spec.models import ApiKeyAuth


class ApiKeyStrategy(AuthStrategy):
    def __init__(self, spec: ApiKeyAuth, ctx: AuthContext) -> None:
        self._key = str(ctx.render(spec.key))
        self._value = spec.prefix + self._key
        self._name = spec.name
        self._in_query = spec.in_ == "query"

    async def apply(self, request: HttpRequest) -> None:
        if self._in_query:
            request.params = [(k, v) for k, v in request.params if k != self._name]
            request.params.append((self._name, self._value))
        else:
            request.headers[self._name] = self._value

    def secrets(self) -> list[str]:
        return [self._key]
