"""The one place that opens connections: resolve once, check, dial the address checked.

Every request of every path (listing pages, site feeds, robots.txt, item pages, image
probes, backfill, WebSub pings) goes through a requests session whose only adapter is
`PinnedAdapter`, redirects hop by hop included. For each request it asks
`fetch.guard.destination` for the one checked address and gives urllib3 a pool that dials
that address, while the Host header, TLS SNI and certificate check keep the host
name. No second lookup happens between the check and the connection, so a DNS answer
that changes (rebinding) cannot move a request to an address that was never checked.

A browser must not resolve or connect by itself either: its request interception
(Playwright's `route()`) is meant to hand every request a page makes to a `Fetcher` of
this dialer and fulfil it with the answer, or to refuse it when `Dialer.destination(url,
guard)` raises RefusedURL, so the browser's requests keep to the same check.

With a `socks5://` `[ingest] proxy` nothing changes but the last hop: the name is resolved
and checked here, and the proxy is asked to connect to the checked address (never to the
name), so every destination is checked as without a proxy. An `http(s)://` or `socks5h://`
proxy resolves names itself: feedsvc still refuses what the guard refuses by scheme, host
and IP literal, and the proxy is the host's egress control for the rest.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3.connection
from requests.adapters import HTTPAdapter
from requests.utils import select_proxy
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from feedsvc.fetch.guard import (
    Destination,
    Forbidden,
    Guard,
    RefusedURL,
    Resolver,
    Unresolved,
    destination,
    system_resolver,
)

PINNED_PROXY = "socks5://"  # a proxy told the checked address, not the name (socks5h: the name)
_GUARD: ContextVar[Guard | None] = ContextVar("feedsvc_fetch_guard", default=None)
_DEADLINE: ContextVar[Deadline | None] = ContextVar("feedsvc_fetch_deadline", default=None)


class Deadline:
    """A whole request's time limit, headers and body and redirects included: a server that
    trickles a byte before each read timeout never ends otherwise. When it passes, every
    socket the request reads from is shut, so the blocked read returns at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = time.monotonic()
        self.received = 0  # body bytes read so far, for the message
        self.expired = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def watch(self, sock: socket.socket) -> None:
        """Shut `sock` when the deadline passes (at once if it has)."""
        with self._lock:
            self._sockets.append(sock)
            if self.expired.is_set():
                _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired.set()
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    with suppress(OSError):  # closed already
        sock.shutdown(socket.SHUT_RDWR)


@contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """Requests made inside share one deadline of `seconds`."""
    limit = Deadline(seconds)
    token = _DEADLINE.set(limit)
    limit._timer.start()
    try:
        yield limit
    finally:
        limit._timer.cancel()
        _DEADLINE.reset(token)


class _Watched:
    """A connection that puts its socket under the current request's deadline."""

    sock: socket.socket | None

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        limit = _DEADLINE.get()
        if limit is not None and self.sock is not None:
            limit.watch(self.sock)
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


class _HTTPConnection(_Watched, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_Watched, urllib3.connection.HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


@cache
def _watched_socks_pools() -> dict[str, type]:
    """SOCKS pools whose connections are watched by the deadline (PySocks: feedsvc[socks])."""
    from urllib3.contrib import socks

    class Plain(_Watched, socks.SOCKSConnection):
        pass

    class Secure(_Watched, socks.SOCKSHTTPSConnection):
        pass

    class PlainPool(socks.SOCKSHTTPConnectionPool):
        ConnectionCls = Plain

    class SecurePool(socks.SOCKSHTTPSConnectionPool):
        ConnectionCls = Secure

    return {"http": PlainPool, "https": SecurePool}


@dataclass(frozen=True)
class Dialer:
    """How names are resolved and which addresses are never dialled, for one fetcher.

    `forbidden` holds (address, port or None) pairs refused whatever their kind: tests
    mark a loopback port forbidden this way, so that a refusal is proven without a
    packet leaving 127.0.0.1. `resolve` is the system resolver outside tests.
    """

    resolve: Resolver = system_resolver
    forbidden: Forbidden = field(default_factory=frozenset)
    source_kinds: dict[str, set[str]] = field(default_factory=dict, compare=False, repr=False)

    def destination(self, url: str, guard: Guard) -> Destination:
        """The checked address `url` may be fetched from; RefusedURL when there is none."""
        return destination(url, guard, self.resolve, self.forbidden, self.source_kinds)

    def through_proxy(self, url: str, guard: Guard) -> None:
        """Check a URL sent through the operator's `[ingest] proxy`, which resolves names
        itself (and may be the only host that can): its scheme and host, and an IP literal's
        address; a name's address is then the proxy's to check, not ours to pin."""
        _, host, _ = guard.vet_url(url)
        try:
            ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return
        try:
            self.destination(url, guard)
        except Unresolved as exc:  # the source's own name: only the proxy knows it
            raise RefusedURL(f"refused {url}: {exc}") from None

    def session(self) -> requests.Session:
        """A requests session that can only connect through this dialer: no proxies from
        the environment (a proxy would resolve names itself), every scheme to one adapter
        (which refuses all but http and https)."""
        session = requests.Session()
        session.trust_env = False
        session.adapters.clear()
        session.mount("", PinnedAdapter(self))
        return session


@contextmanager
def guarded_by(guard: Guard) -> Iterator[None]:
    """Requests made inside (and their redirects) are checked against `guard`."""
    token = _GUARD.set(guard)
    try:
        yield
    finally:
        _GUARD.reset(token)


class PinnedAdapter(HTTPAdapter):
    """A transport adapter whose connections go to the address the guard checked."""

    def __init__(self, dialer: Dialer) -> None:
        super().__init__()
        self.dialer = dialer

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """Pools whose connections keep to the request's deadline."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: bool | str | None,
        proxies: dict[str, str] | None = None,
        cert: tuple[str, str] | str | None = None,
    ) -> HTTPConnectionPool:
        """A pool for the checked address; for https it sends the host name as SNI and
        verifies the certificate against the host name, not the address."""
        guard = _GUARD.get()
        if guard is None:
            raise RefusedURL(f"refused {request.url}: no guard was given for this request")
        url = request.url or ""
        proxy = select_proxy(url, proxies or {})
        if proxy and not proxy.lower().startswith(PINNED_PROXY):  # the proxy resolves names
            self.dialer.through_proxy(url, guard)
            return super().get_connection_with_tls_context(request, verify, proxies, cert)
        try:
            target = self.dialer.destination(url, guard)
        except Unresolved as exc:  # a failed lookup is a network fault, tried again later
            raise requests.ConnectionError(str(exc), request=request) from None
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        host_params["host"] = target.address
        if target.scheme == "https":
            pool_kwargs["server_hostname"] = target.host
            pool_kwargs["assert_hostname"] = target.host
        manager = self.proxy_manager_for(proxy) if proxy else self.poolmanager  # socks5://
        return manager.connection_from_host(**host_params, pool_kwargs=pool_kwargs)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """The proxy's pools; a SOCKS proxy's connections keep to the request's deadline."""
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = _watched_socks_pools()
        return manager

    def add_headers(self, request: requests.PreparedRequest, **kwargs: object) -> None:
        """Host names the URL's host and port (urllib3 would name the address dialled)."""
        request.headers["Host"] = urlsplit(request.url or "").netloc.rpartition("@")[2]
