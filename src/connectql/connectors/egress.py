"""Egress policy: where connectors created at run time, and the builder's URL fetches, may go.

No private, loopback, link-local, reserved, non-public or cloud-metadata addresses unless
allowlisted (an IP, a CIDR, or a host name). The policy is enforced where a socket is about to
connect (`EgressConnector`): the address checked is the one the socket connects to, whatever
form the URL wrote the host in (a name, `127.1`, `2130706433`, `0x7f000001`, `[::ffff:…]`),
for every connection (token endpoints, each redirect hop, pagination links, upload URLs), so
IP literals, which skip resolvers, and DNS rebinding cannot get past it. Resolving names
(`PolicyResolver`) and `check_url` only refuse earlier with a clearer message. Connectors from
the operator's own connectql.yaml are trusted and not checked; the operator sets the
allowlist there.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.client_reqrep import ClientRequest
from aiohttp.connector import Connection
from aiohttp.tracing import Trace

from connectql.errors import Forbidden

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolve = Callable[[str], Awaitable[list[str]]]

METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "169.254.170.2")
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")
REFUSED = "refused by the egress policy"
"""How every refusal starts, so a caller can tell it from an unreachable host."""
_ALLOW_HINT = "add it to egress.allow in connectql.yaml to permit it"


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one reaches (mapped, 6to4, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _kind(address: IPAddress) -> str | None:
    """Why an address is refused, or None when it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        address = _embedded_ipv4(address) or address
    if address in METADATA:
        return "a cloud metadata address"
    for label, test in (
        ("a loopback address", address.is_loopback),
        ("a link-local address", address.is_link_local),
        ("a private address", address.is_private),
        ("a reserved address", address.is_reserved),
        ("a multicast address", address.is_multicast),
        ("an unspecified address", address.is_unspecified),
        ("a non-public address", not address.is_global),  # e.g. 100.64.0.0/10 (CGNAT)
    ):
        if test:
            return label
    return None


def numeric_address(host: str) -> str | None:
    """The address `host` names as a socket reads it (`127.1`, `2130706433` and `0x7f000001`
    are 127.0.0.1), or None when it is a name. No DNS is asked."""
    try:
        infos = socket.getaddrinfo(
            host.strip("[]"), None, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST
        )
    except (OSError, UnicodeError, ValueError):
        return None
    return str(infos[0][4][0]) if infos else None


def _host_key(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


def _is_localhost(host: str) -> bool:
    """RFC 6761: `localhost` and every name under it are loopback, whatever DNS says."""
    name = _host_key(host)
    return name == "localhost" or name.endswith(".localhost")


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
                self._hosts.add(_host_key(item))
        self.resolve: Resolve = resolve or _system_resolve
        """How names are resolved, for `check_url` and for connections alike."""

    def allowed(self, host: str, address: str) -> str | None:
        """None if `host` at `address` may be reached, else why not."""
        if _host_key(host) in self._hosts:
            return None
        canonical = numeric_address(address.split("%", 1)[0])
        if canonical is None:
            return f"{host} has no usable address"  # fail closed on anything unparseable
        ip = ipaddress.ip_address(canonical.split("%", 1)[0])
        if any(ip in network for network in self._networks):
            return None
        kind = _kind(ip)
        if kind is None:
            return None
        shown = host if _host_key(host) == str(ip) else f"{host} (resolves to {ip})"
        return f"{shown} is {kind}; {_ALLOW_HINT}"

    def name_refusal(self, host: str) -> str | None:
        """Why a name is refused before resolving it (`localhost` and names under it)."""
        if _is_localhost(host) and _host_key(host) not in self._hosts:
            return f"{host} is a loopback name; {_ALLOW_HINT}"
        return None

    async def check_url(self, url: str) -> None:
        """Raise Forbidden unless every address `url`'s host resolves to is allowed."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Forbidden(f"only http(s) URLs may be fetched, not {url[:80]!r}")
        host = parts.hostname
        numeric = numeric_address(host)
        if numeric is not None:
            addresses = [numeric]
        else:
            if _host_key(host) in self._hosts:
                return
            reason = self.name_refusal(host)
            if reason is not None:
                raise Forbidden(f"{REFUSED}: {reason}")
            try:
                addresses = await self.resolve(host)
            except OSError:
                raise Forbidden(f"the host {host!r} does not resolve") from None
        for address in addresses:
            reason = self.allowed(host, address)
            if reason is not None:
                raise Forbidden(f"{REFUSED}: {reason}")

    def session(self, **kwargs: Any) -> aiohttp.ClientSession:
        """A session whose every connection (each redirect hop too) is checked."""
        return aiohttp.ClientSession(connector=EgressConnector(self), **kwargs)


class EgressRefused(OSError):
    """A socket the policy would not let connect (raised before it connects)."""


class PolicyResolver(AbstractResolver):
    """Resolves names as the policy does, leaving out refused addresses: an early, clear
    refusal. `EgressConnector` checks the address of every socket again as it connects."""

    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        reason = self.policy.name_refusal(host)
        if reason is not None:
            raise EgressRefused(reason)
        results: list[ResolveResult] = []
        refused: list[str] = []
        for address in await self.policy.resolve(host):
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            found = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
            if family not in (socket.AF_UNSPEC, found):
                continue
            reason = self.policy.allowed(host, address)
            if reason is not None:
                refused.append(reason)
                continue
            results.append(
                ResolveResult(
                    hostname=host,
                    host=address,
                    port=port,
                    family=found,
                    proto=0,
                    flags=socket.AI_NUMERICHOST,
                )
            )
        if not results:
            raise EgressRefused(refused[0]) if refused else OSError(f"{host} has no address")
        return results

    async def close(self) -> None:
        pass


@dataclass
class _Connecting:
    """The host a connection is being opened for, and what the policy refused on the way."""

    host: str
    refused: list[str] = field(default_factory=list)


# aiohttp's socket factory sees only an address; the host it is for (needed for allowlisted
# names) travels alongside in a context variable, which the happy-eyeballs tasks inherit.
_connecting: ContextVar[_Connecting | None] = ContextVar("connectql_egress", default=None)


class EgressConnector(aiohttp.TCPConnector):
    """A TCPConnector that refuses, before it connects, every socket whose address the policy
    refuses, and says so with Forbidden (its message starts with REFUSED)."""

    def __init__(self, policy: EgressPolicy, **kwargs: Any) -> None:
        kwargs.setdefault("resolver", PolicyResolver(policy))
        super().__init__(socket_factory=self._socket, **kwargs)
        self.policy = policy

    async def connect(
        self,
        req: ClientRequest,
        traces: list[Trace],
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 - aiohttp's signature
    ) -> Connection:
        host = req.url.raw_host or ""
        numeric = numeric_address(host)
        # IP literals skip the resolver; check them here, in whatever form they are written
        reason = self.policy.allowed(host, numeric) if numeric is not None else None
        if reason is not None:
            raise Forbidden(f"{REFUSED}: {reason}")
        attempt = _Connecting(host)
        token = _connecting.set(attempt)
        try:
            return await super().connect(req, traces, timeout)
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, EgressRefused):
                attempt.refused.insert(0, str(exc.os_error))
            if not attempt.refused:
                raise
            raise Forbidden(f"{REFUSED}: {attempt.refused[0]}") from None
        finally:
            _connecting.reset(token)

    def _socket(self, addr_info: tuple[Any, ...]) -> socket.socket:
        family, type_, proto, _, address = addr_info
        attempt = _connecting.get()
        host = attempt.host if attempt is not None else str(address[0])
        reason = self.policy.allowed(host, str(address[0]))
        if reason is not None:
            if attempt is not None:
                attempt.refused.append(reason)
            raise EgressRefused(reason)
        return socket.socket(family, type_, proto)
