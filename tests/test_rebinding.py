"""DNS that changes its answer between check and connect: a real DNS server on 127.0.0.1
(tests/upstreams.py) answers 127.0.0.1 first and 127.0.0.2 after, where a second server
stands for the internal service and is marked forbidden. The connection must go to the
address that was checked, with one lookup per request, and a later answer is checked
again. Addresses that must never be dialled are only decided on (no connection).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import faults
import pytest
import upstreams
from conftest import TOPIC_PATH, PageServer, page, write_config
from faults import Site, assert_unchanged, fault_config, snapshot

from feedsvc.config import load
from feedsvc.fetch.client import FetchError, Refused, make_fetcher
from feedsvc.fetch.dial import Dialer
from feedsvc.fetch.guard import RefusedURL, address_guard, source_guard
from feedsvc.ingest.backfill import backfill
from feedsvc.jobs.cycle import prepare, run_cycle, targets
from feedsvc.keys import FeedKey
from feedsvc.store import Store

INSIDE = "127.0.0.2"  # the address a rebinding answer points at: loopback, marked forbidden


@pytest.fixture
def dns() -> Iterator[upstreams.RebindingDNS]:
    running = upstreams.RebindingDNS(first=["127.0.0.1"], then=INSIDE)
    yield running
    running.close()


@pytest.fixture
def inside(server: PageServer) -> Iterator[PageServer]:
    """The 'internal service': same port as the source, on 127.0.0.2."""
    service = PageServer(INSIDE, server.httpd.server_address[1])
    service.serve("/page.html", b"<p>internal</p>")
    service.serve(TOPIC_PATH, page("rand-2024.html"))
    yield service
    assert service.requests == [] and service.robots_requests == [], "the rebinding worked"
    service.close()


def test_the_connection_goes_to_the_address_that_was_checked(
    tmp_path: Path, server: PageServer, dns: upstreams.RebindingDNS, inside: PageServer
) -> None:
    port = server.httpd.server_address[1]
    server.serve("/page.html", b"<p>the source</p>")
    config = load(write_config(tmp_path, f"http://rebind.test:{port}{TOPIC_PATH}"))
    dialer = Dialer(resolve=dns.resolve, forbidden=frozenset({(INSIDE, None)}))
    fetcher = make_fetcher(config, dialer)
    url = f"http://rebind.test:{port}/page.html"

    first = fetcher.fetch(url, robots=False, guard=source_guard(url))
    assert first.body == b"<p>the source</p>"
    assert dns.queries == ["rebind.test."]  # one lookup, checked, dialled: no second answer
    assert server.requests[-1][1]["Host"] == f"rebind.test:{port}"

    with pytest.raises(Refused, match=rf"^fetch: refused {url}: 127\.0\.0\.2 port {port} is "):
        fetcher.fetch(
            url, robots=False, guard=source_guard(url)
        )  # the next answer is checked in its turn
    assert dns.queries == ["rebind.test."] * 2
    fetcher.close()


def test_a_source_whose_dns_rebinds_is_refused_and_loses_nothing(
    tmp_path: Path, server: PageServer, inside: PageServer
) -> None:
    """Robots.txt and the page of the first ingest get 127.0.0.1; the next ingest's answer
    is the internal address: refused, reported, nothing stored lost."""
    dns = upstreams.RebindingDNS(first=["127.0.0.1"] * 2, then=INSIDE)
    port = server.httpd.server_address[1]
    server.serve(TOPIC_PATH, page("rand-2015.html"))
    url = f"http://rebind.test:{port}{TOPIC_PATH}"
    config = fault_config(tmp_path, url)
    store = Store(config.service.database)
    store.create_schema()
    dialer = Dialer(resolve=dns.resolve, forbidden=frozenset({(INSIDE, None)}))
    site = Site(server, config, store, dialer)
    assert site.ingest().new == 21
    assert len(dns.queries) == 2  # robots.txt, the page: one lookup each
    before, feeds = snapshot(store), site.feeds()
    faults.release.clear()

    report = site.ingest()

    assert report.error == f"fetch: refused {url}: {INSIDE} port {port} is forbidden"
    assert_unchanged(site, before, feeds)
    store.close()
    dns.close()


def test_a_name_answering_public_then_private_is_refused_without_a_connection() -> None:
    """The issue's case, decided only: 93.184.216.34 first, then 10.0.0.5 and 169.254.169.254.
    Nothing is dialled here; the tests' tripwire would fail the test if it were."""
    answers = iter([["93.184.216.34"], ["10.0.0.5"], ["169.254.169.254"]])
    dialer = Dialer(resolve=lambda host, port: next(answers))
    guard = address_guard("https://news.example/topics/")
    assert dialer.destination("https://news.example/a", guard).address == "93.184.216.34"
    for kind in ("a private", "a link-local"):
        with pytest.raises(RefusedURL, match=f"news.example is {kind} address"):
            dialer.destination("https://news.example/b", guard)


@pytest.mark.parametrize(
    "link",
    [
        "http://2130706433/",
        "http://0x7f.1/",
        "http://017700000001/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://0.0.0.0/",
        "http://[::]/",
        "http://[fe80::1%25eth0]/",
        "http://[fe80::1%eth0]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00::1]/",
    ],
)
def test_every_disguise_of_a_non_public_address_is_refused_for_a_public_source(
    link: str,
) -> None:
    """Decided only (no connection): a public source's pages may not send us inside."""
    with pytest.raises(RefusedURL, match=r"is an? (loopback|unspecified|link-local|private) "):
        source_guard("http://93.184.216.34/topics/")(link)


def test_an_item_link_resolving_to_a_private_address_is_refused_before_any_connection(
    tmp_path: Path, server: PageServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Enrichment of a link on a listed host whose (test) DNS answer is 10.0.0.5: refused
    by the guard, stored with what the listing gave; the tripwire proves nothing dialled."""
    listing = b"""<ul><li class="result"><h3><a href="http://intranet.test/secret">Secret</a></h3>
    <p class="date">2024-03-01</p></li></ul>"""
    server.serve("/listing.html", listing)
    path = write_config(tmp_path, server.url("/listing.html"))
    source = """enrich = true
  enrich_hosts = ["intranet.test"]
  [topics.sources.selectors]
  item = "li.result"
  title = "h3"
  link = "h3 a"
  date = ".date\""""
    path.write_text(path.read_text().replace('preset = "rand-topic"', source))
    config = load(path)
    prepare(config)
    store = Store(config.service.database)
    lookups = []

    def resolve(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["10.0.0.5"]

    fetcher = make_fetcher(config, Dialer(resolve=resolve))
    with caplog.at_level(logging.INFO, logger="feedsvc.ingest.enrichment"):
        [report] = run_cycle(store, fetcher, config, targets(config))
    fetcher.close()
    assert report.ok and report.new == 1, report.error
    assert lookups == ["intranet.test"]  # robots.txt is asked first: refused, nothing dialled
    assert "fetch: refused http://intranet.test/secret: intranet.test is a private " in (
        caplog.text
    )
    [item] = store.entries(FeedKey(topic="security-cooperation"), 5)
    assert item.title == "Secret" and not store.due_tasks("enrich", [item.guid], 3)  # final
    store.close()


def test_tls_goes_to_the_checked_address_and_is_verified_against_the_host_name(
    tmp_path: Path,
) -> None:
    """The pinned connection sends the host name as SNI and checks the certificate against
    it: a certificate for the name passes, one for another name is refused."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: no certificate to serve")
    config = load(write_config(tmp_path, "https://feeds.test/topics/"))
    right = upstreams.TLSServer(tmp_path, "feeds.test")
    wrong = upstreams.TLSServer(tmp_path, "elsewhere.test")
    lookups: list[str] = []

    def fetch(server: upstreams.TLSServer) -> bytes:
        def resolve(host: str, port: int) -> list[str]:
            lookups.append(host)
            return ["127.0.0.1"]

        fetcher = make_fetcher(config, Dialer(resolve=resolve))
        fetcher.session.verify = str(server.certificate)  # trust this one self-signed cert
        try:
            url = f"https://feeds.test:{server.port}/"
            return fetcher.fetch(url, robots=False, guard=source_guard(url)).body
        finally:
            fetcher.close()

    assert fetch(right) == b"secure"
    assert right.server_names == ["feeds.test"]
    assert right.hosts == [f"feeds.test:{right.port}"]
    assert lookups == ["feeds.test"]
    mismatch = r"SSLError .*hostname 'feeds\.test' doesn't match 'elsewhere\.test'"
    with pytest.raises(FetchError, match=mismatch):
        fetch(wrong)
    assert wrong.server_names[0] == "feeds.test" and wrong.hosts == []
    right.close()
    wrong.close()


def test_a_backfill_next_link_may_reach_only_what_the_source_may(
    tmp_path: Path, server: PageServer
) -> None:
    """The `next` link of page 1 names a host (test DNS: 10.0.0.5) other than the source's
    (127.0.0.1): the walk stops, refused, before any connection to it."""
    port = server.httpd.server_address[1]
    server.serve(
        "/listing.html",
        b'<ul><li class="result"><h3><a href="/a.html">A</a></h3></li></ul>'
        b'<a class="next" href="http://internal.test/page-2.html">Older</a>',
    )
    path = write_config(tmp_path, f"http://site.test:{port}/listing.html")
    source = """[topics.sources.selectors]
  item = "li.result"
  title = "h3"
  link = "h3 a"
  next = "a.next\""""
    path.write_text(path.read_text().replace('preset = "rand-topic"', source))
    config = load(path)
    prepare(config)
    store = Store(config.service.database)
    answers = {"site.test": ["127.0.0.1"], "internal.test": ["10.0.0.5"]}
    fetcher = make_fetcher(config, Dialer(resolve=lambda host, port: answers[host]))
    [(topic, source_config)] = targets(config)

    with pytest.raises(Refused, match=r"internal\.test is a private address \(10\.0\.0\.5\)"):
        backfill(store, fetcher, config, topic.slug, source_config, pages=2)
    fetcher.close()
    assert [p for p, _ in server.requests] == ["/listing.html"]
    store.close()


def test_every_path_resolves_and_connects_through_the_one_place(
    tmp_path: Path, server: PageServer
) -> None:
    """Listing page, robots.txt, image probes and the WebSub ping, all on names only the
    test's resolver knows: a path that resolved or connected by itself would fail (the
    tripwire refuses real lookups), and each request's Host names the host."""
    port = server.httpd.server_address[1]
    server.serve(TOPIC_PATH, page("rand-2015.html"))
    url = f"http://site.test:{port}{TOPIC_PATH}"
    path = write_config(tmp_path, url, f'[websub]\nhub = "http://hub.test:{port}/hub"\n')
    path.write_text(
        path.read_text().replace("image_probes_per_run = 0", "image_probes_per_run = 2")
    )
    config = load(path)
    prepare(config)
    store = Store(config.service.database)
    lookups: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    fetcher = make_fetcher(config, Dialer(resolve=resolve))
    [report] = run_cycle(store, fetcher, config, targets(config))
    fetcher.close()
    store.close()

    assert report.ok and report.new == 21, report.error
    assert server.robots_requests[0][1]["Host"] == f"site.test:{port}"
    assert (server.requests[0][0], server.requests[0][1]["Host"]) == (
        TOPIC_PATH,
        f"site.test:{port}",
    )
    assert len(server.head_requests) == 2  # image probes, on the source's host
    assert [p for p, _ in server.posts] == ["/hub"] * len(server.posts) and server.posts
    assert set(lookups) == {"site.test", "hub.test"}
    # one lookup per request: robots.txt, the page, two HEADs, each ping
    assert len(lookups) == 1 + 1 + 2 + len(server.posts)


def test_a_name_that_does_not_resolve_is_a_network_fault_tried_again(tmp_path: Path) -> None:
    config = load(write_config(tmp_path, "http://gone.test/topics/", "attempts = 2\n"))
    fetcher = make_fetcher(config, Dialer(resolve=lambda host, port: []))
    with pytest.raises(FetchError) as failure:
        fetcher.fetch(
            "http://gone.test/topics/", robots=False, guard=source_guard("http://gone.test/")
        )
    fetcher.close()
    assert not isinstance(failure.value, Refused)  # not final: the next run tries again
    assert str(failure.value) == (
        "fetch: ConnectionError fetching http://gone.test/topics/: cannot resolve gone.test "
        "(no address)"
    )
