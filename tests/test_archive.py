"""RFC 5005 archives: a reader walking prev-archive links from the current feed gets every item once."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import pytest
from conftest import SQLITE_URL, TOPIC_PATH, PageServer, expected, page, write_config
from flask.testing import FlaskClient

from feedsvc.config import Config, load
from feedsvc.jobs.cycle import publish_and_export
from feedsvc.keys import FeedKey
from feedsvc.model import Item
from feedsvc.store import Store
from feedsvc.web import create_app

TOPIC = "security-cooperation"
SOURCE = "http://127.0.0.1:9/topics/security-cooperation.html"
PAGE_SIZE = 50
TYPES = {"report": "Report", "commentary": "Commentary"}
START = datetime(2024, 1, 1, tzinfo=UTC)


def make_items(numbers: range, rng: random.Random) -> list[Item]:
    """Items numbered `numbers`, dated at random over ten years: old items keep turning up late."""
    return [
        Item(
            guid=f"https://example.org/pubs/{n}.html",
            link=f"https://example.org/pubs/{n}.html",
            title=f"Item {n}",
            summary_html=f"Summary of <b>item {n}</b>.",
            summary_text=f"Summary of item {n}.",
            type_slug=slug,
            type_label=TYPES[slug],
            published=START - timedelta(days=rng.randrange(3650), hours=rng.randrange(24)),
            image_url=f"https://example.org/img/{n}.jpg" if n % 3 else None,
            image_caption=f"Picture {n}, photo by Someone" if n % 3 else None,
            image_credit="Someone" if n % 3 else None,
            author=None,
            position=position,
        )
        for position, n in enumerate(numbers)
        for slug in [("report", "commentary")[n % 2]]
    ]


def filled_store(folder: Path, database: str = SQLITE_URL) -> tuple[Config, Store]:
    """1,200 items stored through the real write path in 12 ingests of 100, feeds rendered."""
    extra = f"[feeds]\ndefault_limit = {PAGE_SIZE}\n"
    config = load(write_config(folder, SOURCE, extra=extra, database=database))
    store = Store(config.service.database)
    store.create_schema()
    rng = random.Random(5005)
    for batch in range(12):
        found = make_items(range(batch * 100, batch * 100 + 100), rng)
        store.record_items(TOPIC, SOURCE, found, START + timedelta(hours=batch))
    publish_and_export(store, config)
    return config, store


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Config, Store]]:
    """One filled store for the tests that only read (they render and keep pages, as readers do)."""
    config, store = filled_store(tmp_path_factory.mktemp("archive"))
    yield config, store
    store.close()


@pytest.fixture
def client(shared: tuple[Config, Store]) -> FlaskClient:
    return create_app(shared[0]).test_client()


@pytest.fixture
def big_config(big: tuple[Config, Store]) -> Config:
    return big[0]


@pytest.fixture
def big_store(big: tuple[Config, Store]) -> Store:
    return big[1]


@pytest.fixture
def big(tmp_path: Path, database_url: str) -> Iterator[tuple[Config, Store]]:
    """A filled store of its own, for the tests that ingest more."""
    config, store = filled_store(tmp_path, database_url)
    yield config, store
    store.close()


@pytest.fixture
def own_client(big_config: Config) -> FlaskClient:
    return create_app(big_config).test_client()


def links(parsed: feedparser.FeedParserDict) -> dict[str, str]:
    """A parsed feed's links by rel, for the rels that RFC 5005 and WebSub use."""
    return {link.rel: link.href for link in parsed.feed.links if link.rel != "alternate"}


def path(url: str) -> str:
    return urlsplit(url).path


def walk(
    client: FlaskClient, feed_path: str, fmt: str
) -> list[tuple[str, feedparser.FeedParserDict]]:
    """Every archive page from the newest to the oldest, parsed, following prev-archive."""
    current = feedparser.parse(client.get(f"/{feed_path}/feed.{fmt}").data)
    assert not current.bozo
    pages = []
    url = links(current).get("prev-archive")
    while url:
        response = client.get(path(url))
        assert response.status_code == 200, url
        parsed = feedparser.parse(response.data)
        assert not parsed.bozo, (url, parsed.get("bozo_exception"))
        assert "fh_archive" in parsed.feed
        assert path(links(parsed)["current"]) == f"/{feed_path}/feed.{fmt}"
        assert path(links(parsed)["self"]) == path(url)
        pages.append((url, parsed))
        url = links(parsed).get("prev-archive")
    return pages


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_walking_the_archive_returns_every_item_exactly_once(
    client: FlaskClient, shared: tuple[Config, Store], fmt: str
) -> None:
    pages = walk(client, f"topics/{TOPIC}", fmt)
    assert len(pages) == 1200 // PAGE_SIZE
    ids = [entry.id for _, parsed in pages for entry in parsed.entries]
    assert len(ids) == len(set(ids)) == 1200
    assert set(ids) == {item.guid for item in shared[1].entries(FeedKey(topic=TOPIC), 5000)}
    # Pages are cut by insertion order: the oldest page holds the first ingest's first 50 items.
    oldest = {entry.title for entry in pages[-1][1].entries}
    assert oldest == {f"Item {n}" for n in range(PAGE_SIZE)}
    # next-archive links lead back up the same chain.
    assert [links(p).get("next-archive") for _, p in pages] == [None] + [u for u, _ in pages[:-1]]


def test_type_and_topic_type_archives_hold_their_items_once(
    client: FlaskClient, shared: tuple[Config, Store]
) -> None:
    for feed in (FeedKey(type="report"), FeedKey(topic=TOPIC, type="commentary")):
        pages = walk(client, feed.path, "atom")
        ids = [entry.id for _, parsed in pages for entry in parsed.entries]
        assert len(ids) == len(set(ids)) == 600
        assert set(ids) == {item.guid for item in shared[1].entries(feed, 5000)}


def test_json_feed_pages_chain_through_next_url(client: FlaskClient) -> None:
    feed = json.loads(client.get(f"/topics/{TOPIC}/feed.json").data)
    ids: list[str] = []
    while "next_url" in feed:
        feed = json.loads(client.get(path(feed["next_url"])).data)
        ids += [item["id"] for item in feed["items"]]
    assert len(ids) == len(set(ids)) == 1200


def test_complete_pages_never_change_and_the_newest_grows(
    own_client: FlaskClient, big_config: Config, big_store: Store
) -> None:
    before = {
        url: own_client.get(path(url)) for url, _ in walk(own_client, f"topics/{TOPIC}", "atom")
    }
    # 1,200 items fill 24 pages exactly: the newest page is full but has no newer page yet.
    newest = f"/topics/{TOPIC}/archive/24.atom"
    assert before[f"http://feeds.test{newest}"].cache_control.max_age == 30 * 60
    for url, response in before.items():
        if path(url) != newest:
            assert response.cache_control.max_age == 365 * 24 * 3600
    # An ingest of 30 more items, some of them dated years ago.
    found = make_items(range(1200, 1230), random.Random(1))
    big_store.record_items(TOPIC, SOURCE, found, START + timedelta(days=1))
    publish_and_export(big_store, big_config)
    after = {
        url: own_client.get(path(url)) for url, _ in walk(own_client, f"topics/{TOPIC}", "atom")
    }
    assert len(after) == 25
    for url, response in before.items():
        if path(url) != newest:
            assert after[url].data == response.data
            assert after[url].headers["ETag"] == response.headers["ETag"]
    # Page 24 got its next-archive link and is now final; page 25 holds exactly the new items.
    page24 = after[f"http://feeds.test{newest}"]
    assert page24.data != before[f"http://feeds.test{newest}"].data
    assert page24.cache_control.max_age == 365 * 24 * 3600
    assert links(feedparser.parse(page24.data))["next-archive"].endswith("/archive/25.atom")
    page25 = feedparser.parse(after[f"http://feeds.test/topics/{TOPIC}/archive/25.atom"].data)
    assert {e.title for e in page25.entries} == {f"Item {n}" for n in range(1200, 1230)}
    # Another ingest adds to page 25 only; page 24 stays as it is.
    big_store.record_items(
        TOPIC, SOURCE, make_items(range(1230, 1235), random.Random(2)), START + timedelta(days=2)
    )
    publish_and_export(big_store, big_config)
    assert own_client.get(newest).data == page24.data
    grown = feedparser.parse(own_client.get(f"/topics/{TOPIC}/archive/25.atom").data)
    assert len(grown.entries) == 35


def test_archive_pages_answer_conditional_requests(client: FlaskClient) -> None:
    url = f"/topics/{TOPIC}/archive/3.rss"
    first = client.get(url)
    assert first.status_code == 200 and first.mimetype == "application/rss+xml"
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    by_etag = client.get(url, headers={"If-None-Match": etag})
    assert by_etag.status_code == 304 and by_etag.data == b""
    by_date = client.get(url, headers={"If-Modified-Since": modified})
    assert by_date.status_code == 304 and by_date.data == b""
    head = client.head(url)
    assert head.status_code == 200 and head.headers["ETag"] == etag and head.data == b""
    gzipped = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert gzipped.headers["Content-Encoding"] == "gzip" and gzipped.headers["ETag"] != etag


def test_an_item_that_changes_type_is_still_archived_once(
    own_client: FlaskClient, big_config: Config, big_store: Store
) -> None:
    for feed in ("types/report", "types/commentary"):
        walk(own_client, feed, "atom")  # render and keep every page
    [item] = make_items(range(11, 12), random.Random(3))  # odd: a commentary
    assert item.type_slug == "commentary"
    retyped = Item(**{**item.__dict__, "type_slug": "report", "type_label": "Report"})
    big_store.record_items(TOPIC, SOURCE, [retyped], START + timedelta(days=3))
    publish_and_export(big_store, big_config)
    for feed, count in (("types/report", 601), ("types/commentary", 599)):
        ids = [e.id for _, parsed in walk(own_client, feed, "atom") for e in parsed.entries]
        assert len(ids) == len(set(ids)) == count


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (f"/topics/{TOPIC}/archive/0.atom", f"no archive page 0 of topics/{TOPIC}"),
        (f"/topics/{TOPIC}/archive/25.atom", f"no archive page 25 of topics/{TOPIC}"),
        (f"/topics/{TOPIC}/archive/1.xml", "unknown feed format 'xml'"),
        ("/topics/nope/archive/1.atom", "unknown topic 'nope'"),
        ("/types/nope/archive/1.rss", "unknown type 'nope'"),
        (f"/topics/{TOPIC}/types/report/archive/13.rss", "no archive page 13"),
    ],
)
def test_missing_archive_pages_are_404_with_a_reason(
    client: FlaskClient, url: str, reason: str
) -> None:
    response = client.get(url)
    assert response.status_code == 404 and reason in response.text


@pytest.mark.both_databases
def test_archives_of_ingested_captures_parse_in_every_format(
    tmp_path: Path, server: PageServer, database_url: str
) -> None:
    """Real ingests over HTTP of both captures, pages of 10: 43 items on 5 pages."""
    from feedsvc.fetch.client import make_fetcher
    from feedsvc.jobs.cycle import run_cycle, targets

    server.serve(TOPIC_PATH, page("rand-2015.html"))
    config = load(
        write_config(
            tmp_path,
            server.url(TOPIC_PATH),
            extra="[feeds]\narchive_page_size = 10\n",
            database=database_url,
        )
    )
    store = Store(config.service.database)
    store.create_schema()
    fetcher = make_fetcher(config)
    run_cycle(store, fetcher, config, targets(config))
    server.serve(TOPIC_PATH, page("rand-2024.html"))
    run_cycle(store, fetcher, config, targets(config))
    fetcher.close()
    client = create_app(config).test_client()
    first_capture = {item["title"] for item in expected("rand-2015.expected.json")}
    for fmt in ("atom", "rss"):
        pages = walk(client, f"topics/{TOPIC}", fmt)
        assert [len(p.entries) for _, p in pages] == [3, 10, 10, 10, 10]
        # The 2015 capture was ingested first, so its 21 items fill the two oldest pages.
        assert {e.title for _, p in pages[-2:] for e in p.entries} < first_capture
    current = feedparser.parse(client.get(f"/topics/{TOPIC}/feed.atom").data)
    assert len(current.entries) == 43  # the current feed still holds the newest 50
    store.close()
