"""WebSub: feeds name the hub, and a real hub on 127.0.0.1 gets one ping per changed feed per ingest."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import feedparser
import pytest
from conftest import TOPIC_PATH, PageServer, page, write_config

from feedsvc.config import Config, load
from feedsvc.fetch.client import make_fetcher
from feedsvc.jobs.cycle import run_cycle, targets
from feedsvc.jobs.schedule import ingest_job
from feedsvc.keys import FeedKey
from feedsvc.store import Store
from feedsvc.web import create_app

TOPIC = "security-cooperation"


class Hub:
    """A WebSub hub on 127.0.0.1 that records every publish ping and answers `status`."""

    def __init__(self) -> None:
        self.status = 204
        self.pings: list[tuple[str, list[tuple[str, str]]]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                hub.pings.append((self.headers["Content-Type"], parse_qsl(body)))
                self.send_response(hub.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def pinged_feeds(self) -> list[str]:
        """The feed of each ping, by its .atom URL path; checks each ping's form on the way."""
        feeds = []
        for content_type, form in self.pings:
            assert content_type == "application/x-www-form-urlencoded"
            assert form[0] == ("hub.mode", "publish")
            urls = [value for name, value in form[1:] if name == "hub.url"]
            assert len(urls) == len(form) - 1 == 3
            paths = [urlsplit(url).path for url in urls]
            feed = paths[0].rsplit("/", 1)[0]
            assert sorted(paths) == [f"{feed}/feed.{fmt}" for fmt in ("atom", "json", "rss")]
            feeds.append(feed)
        return feeds

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def hub() -> Iterator[Hub]:
    running = Hub()
    yield running
    running.close()


def hub_config(tmp_path: Path, server: PageServer, hub_url: str) -> Config:
    server.serve(TOPIC_PATH, page("rand-2015.html"))
    return load(write_config(tmp_path, server.url(TOPIC_PATH), f'[websub]\nhub = "{hub_url}"\n'))


def run(store: Store, config: Config) -> None:
    fetcher = make_fetcher(config)
    try:
        [report] = run_cycle(store, fetcher, config, targets(config))
        assert report.ok, report.error
    finally:
        fetcher.close()


def etags(store: Store) -> dict[str, str]:
    """The Atom ETag of every feed the store knows, by feed path."""
    keys = [FeedKey(topic=TOPIC)]
    for slug in store.type_labels():
        keys += [FeedKey(type=slug), FeedKey(topic=TOPIC, type=slug)]
    return {f"/{key.path}": out.etag for key in keys if (out := store.rendered(key, "atom", 50))}


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(path for path, etag in after.items() if before.get(path) != etag)


@pytest.fixture
def setup(tmp_path: Path, server: PageServer, hub: Hub) -> tuple[Config, Store]:
    config = hub_config(tmp_path, server, hub.url)
    store = Store(config.service.database)
    store.create_schema()
    yield config, store
    store.close()


def test_the_hub_gets_one_ping_per_changed_feed_per_ingest(
    setup: tuple[Config, Store], server: PageServer, hub: Hub
) -> None:
    config, store = setup
    run(store, config)
    first = etags(store)
    assert len(first) == 7  # the topic, and three types each alone and within the topic
    assert sorted(hub.pinged_feeds()) == changed({}, first)
    hub.pings.clear()
    run(store, config)  # the same page again: nothing changed, nobody is told
    assert hub.pings == []
    server.serve(TOPIC_PATH, page("rand-2024.html"))
    run(store, config)
    second = etags(store)
    assert sorted(hub.pinged_feeds()) == changed(first, second)
    assert "/types/tool" not in hub.pinged_feeds()  # the 2024 capture has no tools


def test_a_scheduled_ingest_pings_too(setup: tuple[Config, Store], hub: Hub) -> None:
    config, store = setup
    topic = config.topics[0]
    ingest_job(store, config, topic, topic.sources[0])
    assert sorted(hub.pinged_feeds()) == changed({}, etags(store))


def test_feeds_name_the_hub_and_themselves(setup: tuple[Config, Store], hub: Hub) -> None:
    config, store = setup
    run(store, config)
    client = create_app(config).test_client()
    for fmt in ("atom", "rss"):
        url = f"/topics/{TOPIC}/feed.{fmt}"
        parsed = feedparser.parse(client.get(url).data)
        assert not parsed.bozo
        rels = {link.rel: link.href for link in parsed.feed.links}
        assert rels["hub"] == hub.url
        assert rels["self"] == f"http://feeds.test{url}"
        # Archive pages and digests are not pushed, so they do not name the hub.
        for other in (f"/topics/{TOPIC}/archive/1.{fmt}", f"/topics/{TOPIC}/digest/weekly.{fmt}"):
            parsed = feedparser.parse(client.get(other).data)
            assert not parsed.bozo and "hub" not in {link.rel for link in parsed.feed.links}
    feed = json.loads(client.get(f"/topics/{TOPIC}/feed.json").data)
    assert feed["hubs"] == [{"type": "WebSub", "url": hub.url}]


def test_without_a_hub_feeds_have_no_hub_link(tmp_path: Path, server: PageServer) -> None:
    server.serve(TOPIC_PATH, page("rand-2015.html"))
    config = load(write_config(tmp_path, server.url(TOPIC_PATH)))
    store = Store(config.service.database)
    store.create_schema()
    run(store, config)
    client = create_app(config).test_client()
    parsed = feedparser.parse(client.get(f"/topics/{TOPIC}/feed.atom").data)
    assert "hub" not in {link.rel for link in parsed.feed.links}
    assert "hubs" not in json.loads(client.get(f"/topics/{TOPIC}/feed.json").data)
    store.close()


def test_a_hub_answering_500_is_retried_then_left_and_the_ingest_stands(
    setup: tuple[Config, Store], hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    config, store = setup
    hub.status = 500
    with caplog.at_level(logging.WARNING, logger="feedsvc.publish.publisher"):
        run(store, config)
    # Three attempts for the first feed, then the hub is taken to be down for this ingest.
    assert len(hub.pings) == 3 and len(set(hub.pinged_feeds())) == 1
    assert "HTTP 500" in caplog.text and "6 more changed feeds not announced" in caplog.text
    assert store.count_items() == 21 and len(etags(store)) == 7 and store.dirty_feeds() == []


def test_a_hub_refusing_a_ping_is_not_retried(setup: tuple[Config, Store], hub: Hub) -> None:
    config, store = setup
    hub.status = 400
    run(store, config)
    assert len(hub.pings) == 1


def test_an_unreachable_hub_does_not_fail_the_ingest(
    tmp_path: Path, server: PageServer, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = hub_config(tmp_path, server, f"http://127.0.0.1:{port}/")
    store = Store(config.service.database)
    store.create_schema()
    with caplog.at_level(logging.WARNING, logger="feedsvc.publish.publisher"):
        run(store, config)
    assert "ConnectionError" in caplog.text
    assert store.count_items() == 21 and len(etags(store)) == 7
    store.close()
