"""Items enriched from their own page, once, through the polite fetcher and the address guard.

Real HTTP on 127.0.0.1 only: links to private and link-local addresses are refused
before any connection, so no packet goes anywhere else.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES, PageServer, Reply, write_config

from feedsvc.config import load
from feedsvc.fetch.client import make_fetcher
from feedsvc.fetch.guard import RefusedURL, address_guard
from feedsvc.jobs.cycle import prepare, run_cycle, targets
from feedsvc.keys import FeedKey
from feedsvc.store import Store

ENRICH = FIXTURES / "enrich"
ITEM_PAGES = {
    "/research/2024/ports.html": "item-jsonld.html",
    "/research/2024/grids.html": "item-og.html",
    "/pubs/2024/rr-9.html": "item-rand.html",
}
MOVED = "/research/2024/moved.html"
SOURCE = """enrich = true
  enrich_per_run = 2
  enrich_hosts = ["10.1.2.3", "169.254.169.254"]
  [topics.sources.selectors]
  item = "li.result"
  title = "h3"
  link = "h3 a"
  date = ".date"
  summary = ".summary\""""


def test_each_new_item_page_is_fetched_once_and_fills_what_the_listing_lacked(
    tmp_path: Path, server: PageServer
) -> None:
    server.serve("/listing.html", (ENRICH / "listing.html").read_bytes())
    for path, name in ITEM_PAGES.items():
        server.serve(path, (ENRICH / name).read_bytes())
    server.routes[MOVED] = Reply(b"", 302, {"Location": "http://169.254.169.254/latest/meta-data/"})
    path = write_config(tmp_path, server.url("/listing.html"))
    path.write_text(path.read_text().replace('preset = "rand-topic"', SOURCE))
    config = load(path)
    prepare(config)
    store = Store(config.service.database)

    fetched_per_run = []
    for _ in range(3):
        fetcher = make_fetcher(config)
        before = len(server.requests)
        [report] = run_cycle(store, fetcher, config, targets(config))
        fetcher.close()
        assert report.ok, report.error
        fetched_per_run.append(
            sorted(p for p, _ in server.requests[before:] if p != "/listing.html")
        )

    # two per run (enrich_per_run), the refused link costs no request, each page once
    assert fetched_per_run == [
        ["/research/2024/grids.html", "/research/2024/ports.html"],
        ["/pubs/2024/rr-9.html"],
        [MOVED],
    ]
    items = {i.title: i for i in store.entries(FeedKey(topic="security-cooperation"), 50)}
    assert len(items) == 5
    ports = items["Ports Under Pressure"]
    assert ports.published.isoformat() == "2024-03-05T19:30:00+00:00"  # instant beats the day
    assert ports.author == "Maria Keller, Tom Ng"
    assert ports.image_url == server.url("/content/dam/ports-1200.jpg")
    assert ports.summary_text == 'How ports cope with "surge" demand.'
    grids = items["Grids and Storms"]
    assert grids.summary_text == "What the listing says."  # the operator's selector wins
    assert grids.published.isoformat() == "2024-02-20T09:00:00+00:00"
    assert (grids.image_url, grids.image_credit) == (
        "https://cdn.example.org/grids.jpg",
        "Lee Park/Reuters",
    )
    assert grids.author == "Okafor, Ada, Berg, Anna"
    nine = items["Report Nine"]  # stored undated on run 1, enriched on run 2
    assert (nine.type_slug, nine.type_label) == ("research-report", "Research Report")
    assert nine.published.isoformat() == "2024-01-18T00:00:00+00:00"
    assert nine.summary_text == "A report on the ninth thing."
    for title in ("An Internal Link", "Moved Away"):  # refused, stored with what the listing gave
        assert items[title].published == items[title].first_seen
    assert not store.due_tasks("enrich", [i.guid for i in items.values()], 3)


@pytest.mark.parametrize(
    ("source", "link", "reason"),
    [
        ("http://127.0.0.1:8000/topics/", "http://10.1.2.3/admin", "is a private address"),
        ("http://127.0.0.1:8000/topics/", "http://169.254.169.254/latest/", "is a link-local"),
        ("http://127.0.0.1:8000/topics/", "http://[fd00::1]/", "is a private address"),
        ("http://93.184.216.34/topics/", "http://127.0.0.1/", "is a loopback address"),
        ("http://93.184.216.34/topics/", "http://[::ffff:127.0.0.1]/", "is a loopback address"),
        ("http://93.184.216.34/topics/", "http://other.example/x", "neither the source's"),
        ("http://93.184.216.34/topics/", "file:///etc/passwd", "only http(s)"),
        ("http://93.184.216.34/topics/", "ftp://93.184.216.34/x", "only http(s)"),
    ],
)
def test_unsafe_links_are_refused_without_a_packet(source: str, link: str, reason: str) -> None:
    guard = address_guard(
        source, ["10.1.2.3", "169.254.169.254", "fd00::1", "127.0.0.1", "::ffff:127.0.0.1"]
    )
    with pytest.raises(RefusedURL, match=reason.replace("(", r"\(").replace(")", r"\)")):
        guard(link)


def test_the_source_host_and_listed_public_hosts_pass() -> None:
    guard = address_guard("http://127.0.0.1:8000/topics/", ["93.184.216.34"])
    guard("http://127.0.0.1:9/item.html")  # the source's own kind of address
    guard("https://93.184.216.34/item.html")


def test_an_item_left_waiting_off_the_page_does_not_stop_conditional_requests(
    tmp_path: Path, server: PageServer
) -> None:
    """Over the per-run cap, an item waits; once it has left the page, the source goes back
    to conditional GETs instead of reading the page in full forever."""
    listing = (ENRICH / "listing.html").read_bytes()
    etag = {"Content-Type": "text/html; charset=utf-8", "ETag": '"v1"'}
    server.serve("/listing.html", listing, headers=etag)
    server.serve("/research/2024/ports.html", (ENRICH / "item-jsonld.html").read_bytes())
    path = write_config(tmp_path, server.url("/listing.html"), "min_items_ratio = 0\n")
    text = path.read_text().replace('preset = "rand-topic"', SOURCE)
    path.write_text(text.replace("enrich_per_run = 2", "enrich_per_run = 1"))
    config = load(path)
    prepare(config)
    store = Store(config.service.database)

    def listing_requests() -> list[dict[str, str]]:
        fetcher = make_fetcher(config)
        before = len(server.requests)
        [report] = run_cycle(store, fetcher, config, targets(config))
        fetcher.close()
        assert report.ok, report.error
        return [h for p, h in server.requests[before:] if p == "/listing.html"]

    [first] = listing_requests()  # ports enriched; grids and the rest wait
    assert "If-None-Match" not in first
    only_ports = listing.split(b'<li class="result">')
    server.serve(
        "/listing.html",
        b'<li class="result">'.join(only_ports[:2]) + b"</ul>",
        headers={**etag, "ETag": '"v2"'},
    )
    [second] = listing_requests()  # read in full: items were waiting when it started
    assert "If-None-Match" not in second
    [third] = listing_requests()  # the waiting items are gone from the page
    assert third.get("If-None-Match") == '"v2"'
