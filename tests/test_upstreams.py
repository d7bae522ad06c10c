"""Hostile upstreams, each tried for real and each with its outcome (docs/operations.md,
"Hostile upstreams"): refused and reported, or read safely and bounded; nothing stored lost.

Every refusal is proven on 127.0.0.0/8 alone: a trap server on 127.0.0.1 is marked
forbidden for the test (`Dialer(forbidden=...)`), so a broken guard would show up as a
request in its log, never as a packet elsewhere; addresses that must never be dialled
(10.x, 169.254.x, fe80::) are only ever decided on, and the tests' tripwire
(conftest.loopback_only) fails any test that tries to connect to one.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import faults
import pytest
import upstreams
from conftest import TOPIC_PATH, PageServer, Reply, page
from faults import CAP, Site, assert_unchanged, fault_config, snapshot

from feedsvc.config import load
from feedsvc.fetch.dial import Dialer
from feedsvc.store import Store

BODY = page("rand-2015.html")
FIVE_MB = 5 * 1024 * 1024


@dataclass
class Upstream(Site):
    """The fault site, with a trap server on 127.0.0.1 that no request may reach."""

    trap: PageServer | None = None

    @property
    def trap_port(self) -> int:
        assert self.trap is not None
        return self.trap.httpd.server_address[1]

    def reconfigure(self, old: str, new: str) -> None:
        """Change one line of the config (a row's own limits)."""
        path = self.config.path
        text = path.read_text()
        assert text.count(old) == 1, old
        path.write_text(text.replace(old, new))
        self.config = load(path)


@pytest.fixture
def upstream(tmp_path: Path, server: PageServer) -> Iterator[Upstream]:
    trap = PageServer()
    trap_port = trap.httpd.server_address[1]
    server.serve(TOPIC_PATH, BODY)
    config = fault_config(tmp_path, server.url(TOPIC_PATH))
    store = Store(config.service.database)
    store.create_schema()
    dialer = Dialer(forbidden=frozenset({("127.0.0.1", trap_port)}))
    ready = Upstream(server, config, store, dialer, trap)
    assert ready.ingest().new == 21
    server.requests.clear()
    faults.release.clear()
    yield ready
    faults.release.set()
    assert trap.requests == [] and trap.robots_requests == [], "a forbidden address was reached"
    trap.close()
    store.close()


@dataclass(frozen=True)
class Hostile:
    """What the listing page answers, the error expected, and the requests the source sees."""

    name: str
    answer: Callable[[Upstream], Reply | faults.Route]
    reason: str  # a regular expression; {url} is the page's URL, {trap} the trap's port
    requests: int
    config: tuple[str, str] | None = None  # one config line changed for this row
    seconds: float = 5.0  # the whole ingest takes less than this


def to(location: str) -> Callable[[Upstream], Reply]:
    """A 302 to `location`, where {trap} is the forbidden trap's port."""
    return lambda up: faults.redirect_to(location.format(trap=up.trap_port))


def hops(up: Upstream, count: int, last: str) -> faults.Route:
    """The page redirects through /hop/1 ... /hop/`count`, whose last redirect is to `last`."""
    for number in range(1, count + 1):
        target = f"/hop/{number + 1}" if number < count else last.format(trap=up.trap_port)
        up.server.routes[f"/hop/{number}"] = faults.redirect_to(target)
    return faults.in_turn(faults.redirect_to("/hop/1"))


def endless(up: Upstream) -> faults.Route:
    """The page and /r/1 ... /r/9 each redirect to the next /r/N."""
    route = upstreams.endless_redirects()
    up.server.routes.update({f"/r/{n}": route for n in range(1, 10)})
    return route


REFUSED = r"fetch: refused {target}: 127\.0\.0\.1 port {{trap}} is forbidden"
HOSTILE = [
    Hostile(
        "redirect to file:",
        to("file:///etc/passwd"),
        r"fetch: refused 'file:///etc/passwd': only http\(s\) links are followed",
        1,
    ),
    Hostile(
        "redirect to gopher:",
        to("gopher://127.0.0.1:{trap}/_GET%20/"),
        r"fetch: refused 'gopher://127\.0\.0\.1:{trap}/_GET%20/': only http\(s\) links are followed",
        1,
    ),
    Hostile(
        "a forbidden address after three hops",
        lambda up: hops(up, 3, "http://127.0.0.1:{trap}/latest/meta-data/"),
        REFUSED.format(target=r"http://127\.0\.0\.1:{trap}/latest/meta-data/"),
        4,
    ),
    Hostile(
        "decimal IP literal",
        to("http://2130706433:{trap}/"),
        REFUSED.format(target=r"http://2130706433:{trap}/"),
        1,
    ),
    Hostile(
        "hex and short IP literal",
        to("http://0x7f.1:{trap}/"),
        REFUSED.format(target=r"http://0x7f\.1:{trap}/"),
        1,
    ),
    Hostile(
        "IPv4-mapped IPv6 literal",
        to("http://[::ffff:127.0.0.1]:{trap}/"),
        REFUSED.format(target=r"http://\[::ffff:127\.0\.0\.1\]:{trap}/"),
        1,
    ),
    Hostile(
        "the unspecified address",
        to("http://0.0.0.0:{trap}/"),
        r"fetch: refused http://0\.0\.0\.0:{trap}/: 0\.0\.0\.0 is an unspecified address "
        r"\(0\.0\.0\.0\)",
        1,
    ),
    Hostile(
        "IPv6 link-local with a zone id",
        to("http://[fe80::1%25lo]:{trap}/"),
        r"fetch: refused http://\[fe80::1%25lo\]:{trap}/: fe80::1%25lo is a link-local "
        r"address \(fe80::1%25lo\)",
        1,
    ),
    Hostile(
        "gzip body expanding past max_bytes",
        lambda up: Reply(
            upstreams.gzip_bomb(64 * CAP),
            headers={"Content-Type": "text/html", "Content-Encoding": "gzip"},
        ),
        rf"fetch: response exceeds the {CAP}-byte cap: {{url}}",
        1,
    ),
    Hostile(
        "a body trickling one byte a second",
        lambda up: faults.drip(BODY, 1.0),
        r"fetch: response took longer than 1\.5 s to arrive \(\d bytes so far\): {url}",
        2,
        ("timeout_seconds = 0.5", "timeout_seconds = 1.5"),
        seconds=10,
    ),
    Hostile(
        "headers trickling one byte a second",
        lambda up: upstreams.header_drip(1.0),
        r"fetch: timed out after 1\.5 s fetching {url}",
        2,
        ("timeout_seconds = 0.5", "timeout_seconds = 1.5"),
        seconds=10,
    ),
    Hostile(
        "endless redirects",
        lambda up: endless(up),
        r"fetch: too many redirects \(more than 5\) from {url}",
        6,
    ),
    Hostile(
        "10,000 headers",
        lambda up: upstreams.header_flood(10_000),
        r"fetch: ConnectionError fetching {url}: .*got more than 100 headers.*",
        2,
    ),
    Hostile(
        "5 MB of one unclosed tag",
        lambda up: Reply(b'<!DOCTYPE html><html><body><div title="' + b"x" * FIVE_MB),
        r'extract: no items matched item selector "ul\.teasers > li"',
        1,
        (f"max_bytes = {CAP}", f"max_bytes = {2 * FIVE_MB}"),
    ),
]


@pytest.mark.parametrize("hostile", HOSTILE, ids=[h.name for h in HOSTILE])
def test_a_hostile_upstream_is_refused_or_bounded_and_loses_nothing(
    upstream: Upstream, hostile: Hostile
) -> None:
    if hostile.config:
        upstream.reconfigure(*hostile.config)
    before, feeds = snapshot(upstream.store), upstream.feeds()
    upstream.server.routes[TOPIC_PATH] = hostile.answer(upstream)

    started = time.monotonic()
    report = upstream.ingest()
    took = time.monotonic() - started

    assert report.outcome == "error"
    expected = hostile.reason.format(url=re.escape(upstream.url), trap=upstream.trap_port)
    assert re.fullmatch(expected, report.error), report.error
    assert len(upstream.server.requests) == hostile.requests
    assert took < hostile.seconds, took
    assert_unchanged(upstream, before, feeds)
    assert upstream.store.source("security-cooperation", upstream.url).last_error == report.error
