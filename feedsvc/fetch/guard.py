"""Which links found on a source's pages feedsvc may fetch: part of the fetch stage.

A listing page must not be able to make feedsvc fetch internal services, so every
item page and every redirect is vetted here before a connection is opened.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit


class RefusedURL(Exception):
    """A URL the guard will not let the fetcher connect to; the message says why."""


Guard = Callable[[str], None]  # raises RefusedURL for a URL that must not be fetched


def address_guard(source_url: str, extra_hosts: Sequence[str] = ()) -> Guard:
    """A check for links found on a source's pages (item pages, their redirects): only
    http(s), only the source's own host or `extra_hosts`, and never a loopback, private or
    link-local address unless the source itself is on one of that kind. It resolves names
    (no packet leaves for /etc/hosts names or IP literals) and refuses before connecting."""
    source_host = (urlsplit(source_url).hostname or "").lower()
    allowed_hosts = {source_host, *(h.lower() for h in extra_hosts)}

    def check(url: str) -> None:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not host:
            raise RefusedURL(f"refused {url!r}: only http(s) links are followed")
        if host not in allowed_hosts:
            raise RefusedURL(f"refused {url}: host {host} is neither the source's nor listed")
        for address in _addresses(host):
            kind = _address_kind(address)
            # the source's own kind is resolved only when needed: most links are public
            if kind != "public" and kind not in {_address_kind(a) for a in _addresses(source_host)}:
                raise RefusedURL(f"refused {url}: {host} is a {kind} address ({address})")

    return check


def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise RefusedURL(f"cannot resolve {host}") from None
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def _address_kind(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """public, loopback, link-local or private (everything else not globally reachable)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    return "public" if address.is_global else "private"
