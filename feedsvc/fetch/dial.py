"""The one place that opens connections: resolve once, check, dial the address checked.

Every request of every path (listing pages, site feeds, robots.txt, item pages, image
probes, backfill, WebSub pings) goes through a requests session whose only adapter is
`PinnedAdapter`, redirects hop by hop included. For each request it asks
`guard.destination` for the one checked address and gives urllib3 a pool that dials
that address, while the Host header, TLS SNI and certificate check keep the host
name. No second lookup happens between the check and the connection, so a DNS answer
that changes (rebinding) cannot move a request to an address that was never checked.

Something that makes requests of its own (a browser's request interception) asks
`Dialer.destination(url, guard)` first, or fetches through the same `Fetcher`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool

from feedsvc.fetch.guard import (
    Destination,
    Forbidden,
    Guard,
    RefusedURL,
    Resolver,
    destination,
    system_resolver,
)

_GUARD: ContextVar[Guard | None] = ContextVar("feedsvc_fetch_guard", default=None)


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
        target = self.dialer.destination(request.url or "", guard)
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        host_params["host"] = target.address
        if target.scheme == "https":
            pool_kwargs["server_hostname"] = target.host
            pool_kwargs["assert_hostname"] = target.host
        return self.poolmanager.connection_from_host(**host_params, pool_kwargs=pool_kwargs)

    def add_headers(self, request: requests.PreparedRequest, **kwargs: object) -> None:
        """Host names the URL's host and port (urllib3 would name the address dialled)."""
        request.headers["Host"] = urlsplit(request.url or "").netloc.rpartition("@")[2]
