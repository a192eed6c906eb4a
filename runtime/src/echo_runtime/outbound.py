"""The one policy for requests to URLs a user can set (notification webhooks, ...).

A URL is allowed when its scheme is http(s) and every address its host resolves to is a public
unicast address: loopback, private, link-local, multicast, reserved, unspecified, shared (CGNAT)
addresses and IPv4-mapped/-translated IPv6 forms of them are refused, unless an operator allow-lists
their network (`OUTBOUND_ALLOWED_NETWORKS`, e.g. a hub whose receivers are on its own LAN).

The check runs twice: when the URL is saved (a clear 422 for the person who typed it) and again
when connecting, on the addresses resolved then (a name that resolved to a public address when
saved may resolve to 127.0.0.1 later: DNS rebinding). `vetted_client` connects to exactly the
address it vetted while the Host header and TLS server name stay those of the URL. Proxies from
the environment are not used (a proxy would resolve the name itself).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Ranges `is_global` does not cover, or that must never be reached even when "global".
_ALWAYS_REFUSED = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",  # "this network"
        "100.64.0.0/10",  # shared address space (carrier-grade NAT)
        "192.0.0.0/24",  # IETF protocol assignments
        "198.18.0.0/15",  # benchmarking
        "64:ff9b::/96",  # NAT64 (embeds an IPv4 address)
        "64:ff9b:1::/48",
        "2002::/16",  # 6to4 (embeds an IPv4 address)
    )
)


class OutboundRefused(Exception):
    """A URL or address the policy refuses; `category` is what a delivery log may record."""

    def __init__(self, detail: str, category: str = "refused_address") -> None:
        super().__init__(detail)
        self.category = category


def parse_networks(values: Iterable[str]) -> tuple[IpNetwork, ...]:
    """CIDR networks (a bare address is its /32 or /128); ValueError names a bad one."""
    networks: list[IpNetwork] = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(
                f"{value!r} is not an IP network; write CIDRs such as 10.20.0.0/16 or 127.0.0.1"
            ) from None
    return tuple(networks)


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _embedded_ipv4(address: IpAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped, 6to4 or NAT64 IPv6 address."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _kind(address: IpAddress) -> str | None:
    """Why an address is not public unicast (None when it is)."""
    checks = (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("unspecified", address.is_unspecified),
        ("reserved", address.is_reserved),
        ("reserved", any(address in n for n in _ALWAYS_REFUSED if n.version == address.version)),
        ("private", address.is_private),
        ("non-global", not address.is_global),
    )
    return next((name for name, hit in checks if hit), None)


@dataclass(frozen=True)
class OutboundPolicy:
    """Which addresses outbound requests may reach; `allowed` networks are the operator's
    exceptions to the public-only rule (empty by default)."""

    allowed: tuple[IpNetwork, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, allowed: Sequence[str]) -> OutboundPolicy:
        return cls(parse_networks(allowed))

    def _allow_listed(self, address: IpAddress) -> bool:
        return any(address.version == n.version and address in n for n in self.allowed)

    def check_address(self, address: IpAddress) -> None:
        """Refuse an address that is not public unicast, unless allow-listed."""
        if self._allow_listed(address):
            return
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            if self._allow_listed(embedded):
                return
            raise OutboundRefused(
                f"{address} is an IPv6 form of the IPv4 address {embedded}; use the IPv4"
                " address (it is then checked like any other)"
            )
        kind = _kind(address)
        if kind is not None:
            raise OutboundRefused(
                f"{address} is a {kind} address; requests may go only to public addresses"
                " (an operator can allow-list internal receivers with OUTBOUND_ALLOWED_NETWORKS)"
            )

    def check_url(self, url: str) -> tuple[str, int]:
        """The URL's host and port after checking its scheme and form (no DNS)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise OutboundRefused(
                f"scheme {parts.scheme!r} is not allowed; use an http:// or https:// URL",
                "refused_scheme",
            )
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise OutboundRefused(
                "the URL's port is not a number in 1-65535", "refused_url"
            ) from None
        host = parts.hostname
        if not host:
            raise OutboundRefused("the URL has no host name", "refused_url")
        literal = _literal(host)
        if literal is not None:
            self.check_address(literal)
        return host, port

    async def resolve(self, host: str, port: int) -> list[IpAddress]:
        """Every address of `host`, each checked; refused when any one is not allowed (a name
        answering with a public and a private address could be made to reach the private one)."""
        literal = _literal(host)
        if literal is not None:
            self.check_address(literal)
            return [literal]
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except (OSError, UnicodeError):
            raise OutboundRefused(
                f"the host name {host!r} does not resolve", "unresolvable"
            ) from None
        addresses: list[IpAddress] = []
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if address not in addresses:
                self.check_address(address)
                addresses.append(address)
        if not addresses:
            raise OutboundRefused(f"the host name {host!r} has no address", "unresolvable")
        return addresses

    async def check(self, url: str, *, resolve: bool = True) -> None:
        """Check a URL as it is saved: scheme, form and (when `resolve`) the addresses its host
        has now. A name that does not resolve yet passes (it is checked again when used)."""
        host, port = self.check_url(url)
        if resolve:
            try:
                await self.resolve(host, port)
            except OutboundRefused as refused:
                if refused.category != "unresolvable":
                    raise

    def client(self, *, timeout: float) -> httpx.AsyncClient:
        """An HTTP client that vets every connection's address when connecting."""
        return httpx.AsyncClient(transport=VettedTransport(self), timeout=timeout, trust_env=False)


def _literal(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


class _VettingBackend(httpcore.AsyncNetworkBackend):
    """Resolves and vets the host itself, then connects to the vetted address (the TLS server
    name is set by httpcore from the URL, not from the address connected to)."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self.policy = policy
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self.policy.resolve(host, port)
        last: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise OutboundRefused("unix sockets are not reachable through the outbound policy")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class VettedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with a connection pool whose every connection goes through the policy."""

    def __init__(self, policy: OutboundPolicy) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=_VettingBackend(policy),
        )
