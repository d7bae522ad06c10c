"""Where a request may go: part of the fetch stage, and its decisions only (no connection).

A listing page, a redirect or a DNS answer must not be able to make feedsvc fetch
internal services. Every request asks `destination` once: it resolves the host once,
checks every address, and names the one address the connection must dial
(`feedsvc.fetch.dial` dials exactly that one, so a second DNS answer never counts).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]  # (host, port) -> addresses, in preference order
Forbidden = Collection[tuple[str, int | None]]  # (address, port or None for every port)
DEFAULT_PORTS = {"http": 80, "https": 443}


class RefusedURL(Exception):
    """A URL the guard will not let the fetcher connect to; the message says why."""


class Unresolved(RefusedURL):
    """A host with no address now: nothing to connect to, but a later lookup may find one."""


@dataclass(frozen=True)
class Destination:
    """Where one request connects: the URL's host and port, and the address that was checked."""

    scheme: str
    host: str
    port: int
    address: str


@dataclass(frozen=True)
class Guard:
    """What one fetch may reach: http(s) only; `hosts` only (None: any host); and no
    loopback, private, link-local or unspecified address unless `source_host` itself is
    one of that kind (an operator who runs a source on 10.x means it): its IP literal, or
    its first DNS answer of the fetcher's life (see `destination`)."""

    source_host: str
    hosts: frozenset[str] | None = None

    def __call__(self, url: str) -> Destination:
        """The decision for `url`, resolving with the system resolver; connects nowhere."""
        return destination(url, self)

    def vet_url(self, url: str) -> tuple[str, str, int]:
        """(scheme, host, port) of a URL this guard lets through, before any lookup."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in DEFAULT_PORTS or not host:
            raise RefusedURL(f"refused {url!r}: only http(s) links are followed")
        if self.hosts is not None and host not in self.hosts:
            raise RefusedURL(f"refused {url}: host {host} is neither the source's nor listed")
        try:
            port = parts.port or DEFAULT_PORTS[parts.scheme]
        except ValueError:
            raise RefusedURL(f"refused {url}: the port is not a number") from None
        return parts.scheme, host, port


def address_guard(source_url: str, extra_hosts: Sequence[str] = ()) -> Guard:
    """The guard for pages a source's pages link to (item pages and their redirects): the
    source's own host or `extra_hosts` only."""
    source_host = (urlsplit(source_url).hostname or "").lower()
    return Guard(source_host, frozenset({source_host, *(h.lower() for h in extra_hosts)}))


def source_guard(source_url: str) -> Guard:
    """The guard for a URL the operator configured (a listing page, a site feed, robots.txt,
    a WebSub hub) or for files a source's pages show (images on any CDN): any host, and
    non-public addresses only of the kinds the configured host itself has."""
    return Guard((urlsplit(source_url).hostname or "").lower())


def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses as the system resolver gives them, each once, in its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def destination(
    url: str,
    guard: Guard,
    resolve: Resolver = system_resolver,
    forbidden: Forbidden = (),
    known_kinds: dict[str, set[str]] | None = None,
) -> Destination:
    """Resolve the URL's host once, refuse it when any address is refused, else say which
    address to connect to. `forbidden` lists addresses refused whatever their kind.

    The source's own kinds of address are learnt once per `known_kinds` (a fetcher's
    life: one cycle) from its first answer, or from its IP literal, so a source whose DNS
    answers a public address first cannot point a later request at a private one."""
    scheme, host, port = guard.vet_url(url)
    addresses = _addresses(host, port, resolve)
    known = {} if known_kinds is None else known_kinds
    if host == guard.source_host and host not in known:
        known[host] = {address_kind(a) for a in addresses}  # no second lookup for it
    for address in addresses:
        if (str(address), port) in forbidden or (str(address), None) in forbidden:
            raise RefusedURL(f"refused {url}: {address} port {port} is forbidden")
        kind = address_kind(address)
        if kind == "public":
            continue
        if guard.source_host not in known:  # looked up only when needed: most links are public
            source = _addresses(guard.source_host, port, resolve)
            known[guard.source_host] = {address_kind(a) for a in source}
        if kind not in known[guard.source_host]:
            article = "an" if kind[0] in "aeiou" else "a"
            raise RefusedURL(f"refused {url}: {host} is {article} {kind} address ({address})")
    return Destination(scheme, host, port, str(addresses[0]))


def _addresses(host: str, port: int, resolve: Resolver) -> list[Address]:
    """An IP literal as itself (no lookup), a name as every address it resolves to; an
    IPv4-mapped IPv6 address as the IPv4 address it is."""
    try:
        found = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        try:
            found = [ipaddress.ip_address(a) for a in resolve(host, port)]
        except (OSError, UnicodeError, ValueError) as exc:
            raise Unresolved(f"cannot resolve {host} ({exc})") from None
    if not found:
        raise Unresolved(f"cannot resolve {host} (no address)")
    return [
        a.ipv4_mapped if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped else a
        for a in found
    ]


def address_kind(address: Address) -> str:
    """public, loopback, link-local, unspecified or private (anything else not global)."""
    if address.is_unspecified:  # 0.0.0.0 and :: reach this host
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    return "public" if address.is_global else "private"
