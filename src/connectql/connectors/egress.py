"""Egress policy: where connectors created at run time, and the builder's URL fetches, may go.

No private, loopback, link-local, reserved or cloud-metadata addresses unless allowlisted
(an IP, a CIDR, or a host name). Checked after DNS resolution, and again for every connection
by the resolver the session uses, so a name that resolves elsewhere on the second lookup (DNS
rebinding) still cannot reach a refused address. Connectors from the operator's own
connectql.yaml are trusted and not checked; the operator sets the allowlist there.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from connectql.errors import Forbidden

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolve = Callable[[str], Awaitable[list[str]]]

METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "169.254.170.2")
)


def _kind(address: IPAddress) -> str | None:
    """Why an address is refused, or None when it is public."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA:
        return "a cloud metadata address"
    for label, test in (
        ("a loopback address", address.is_loopback),
        ("a link-local address", address.is_link_local),
        ("a private address", address.is_private),
        ("a reserved address", address.is_reserved),
        ("a multicast address", address.is_multicast),
        ("an unspecified address", address.is_unspecified),
    ):
        if test:
            return label
    return None


async def _system_resolve(host: str) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


class EgressPolicy:
    def __init__(self, allow: Iterable[str] = (), *, resolve: Resolve | None = None) -> None:
        self._networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        self._hosts: set[str] = set()
        for item in allow:
            try:
                self._networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
            except ValueError:
                self._hosts.add(item.lower())
        self._resolve = resolve or _system_resolve

    def allowed(self, host: str, address: str) -> str | None:
        """None if `host` at `address` may be reached, else why not."""
        if host.lower() in self._hosts:
            return None
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if any(ip in network for network in self._networks):
            return None
        kind = _kind(ip)
        if kind is None:
            return None
        shown = host if host == address else f"{host} (resolves to {address})"
        return f"{shown} is {kind}; add it to egress.allow in connectql.yaml to permit it"

    async def check_url(self, url: str) -> None:
        """Raise Forbidden unless every address `url`'s host resolves to is allowed."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Forbidden(f"only http(s) URLs may be fetched, not {url[:80]!r}")
        host = parts.hostname
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            if host.lower() in self._hosts:
                return
            try:
                addresses = await self._resolve(host)
            except OSError:
                raise Forbidden(f"the host {host!r} does not resolve") from None
        for address in addresses:
            reason = self.allowed(host, address)
            if reason is not None:
                raise Forbidden(f"egress refused: {reason}")

    def session(self, **kwargs: Any) -> aiohttp.ClientSession:
        """A session whose every connection is checked against this policy."""
        connector = aiohttp.TCPConnector(resolver=PolicyResolver(self), **kwargs)
        return aiohttp.ClientSession(connector=connector)


class PolicyResolver(AbstractResolver):
    """aiohttp's resolver, with refused addresses removed at connection time."""

    def __init__(self, policy: EgressPolicy) -> None:
        self._policy = policy
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        allowed = [r for r in results if self._policy.allowed(host, r["host"]) is None]
        if not allowed:
            raise OSError(f"egress refused for {host}: no allowed address")
        return allowed

    async def close(self) -> None:
        await self._inner.close()
