"""`auth: {type: none}`."""

from __future__ import annotations

from connectql.connectors.auth.base import AuthStrategy
from connectql.connectors.http import HttpRequest


class NoAuthStrategy(AuthStrategy):
    async def apply(self, request: HttpRequest) -> None:
        return None
