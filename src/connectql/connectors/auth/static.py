"""Credentials that do not change while the connector runs: none, api_key, bearer, basic."""

from __future__ import annotations

from aiohttp import encode_basic_auth

from connectql.connectors.auth.base import AuthContext, AuthStrategy
from connectql.connectors.http import HttpRequest
from connectql.spec.models import ApiKeyAuth, BasicAuth, BearerAuth


class NoAuthStrategy(AuthStrategy):
    async def apply(self, request: HttpRequest) -> None:
        return None


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


class BearerStrategy(AuthStrategy):
    def __init__(self, spec: BearerAuth, ctx: AuthContext) -> None:
        self._token = str(ctx.render(spec.token))
        self._header = spec.header
        self._value = f"{spec.scheme} {self._token}" if spec.scheme else self._token

    async def apply(self, request: HttpRequest) -> None:
        request.headers[self._header] = self._value

    def secrets(self) -> list[str]:
        return [self._token]


class BasicStrategy(AuthStrategy):
    def __init__(self, spec: BasicAuth, ctx: AuthContext) -> None:
        self._password = str(ctx.render(spec.password))
        self._value = encode_basic_auth(str(ctx.render(spec.username)), self._password)

    async def apply(self, request: HttpRequest) -> None:
        request.headers["Authorization"] = self._value

    def secrets(self) -> list[str]:
        return [self._password, self._value.split(" ", 1)[1]]
