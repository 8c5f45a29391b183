"""The auth strategy interface: one subclass per `source.auth.type`, built by `build_auth`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connectql.connectors.clock import Clock
from connectql.connectors.http import HttpRequest, Send


@dataclass(frozen=True)
class AuthContext:
    """What a strategy may use besides its spec model."""

    connector: str
    render: Callable[[str], Any]
    """Render a spec template against the connector's config (`{config.token}` → value)."""
    send: Send
    """Raw HTTP exchange (no auth, retry or limits): for token endpoints."""
    clock: Clock


class AuthStrategy(ABC):
    @abstractmethod
    async def apply(self, request: HttpRequest) -> None:
        """Add credentials to `request` (headers, query params, or a signature)."""

    async def refresh(self, rejected: HttpRequest) -> bool:
        """Called once after the upstream answered 401 to `rejected`.

        Return True if new credentials were obtained (by this call or a concurrent one) and
        the call should be sent again.
        """
        return False

    def hosts(self) -> frozenset[str]:
        """Hosts learned at sign-in that calls may go to (an OAuth2 `instance_url`), besides
        base_url's and `source.allow_hosts`."""
        return frozenset()

    def secrets(self) -> list[str]:
        """Every credential value currently held, so the runtime can redact it anywhere."""
        return []
