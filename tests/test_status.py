"""The operators' pages: /status in headless Chromium, /metrics read back by prometheus_client's
parser, both refused to clients outside admin_networks or without the token; and each ingest
error printed once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FAST_INGEST, TOPIC_PATH, PageServer, page
from lxml import html
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url
from test_browser import CHROMIUM, dump_dom
from werkzeug.serving import make_server

from feedsvc.config import Config, load
from feedsvc.fetch.client import make_fetcher
from feedsvc.jobs.cycle import prepare, run_cycle, targets
from feedsvc.keys import FeedKey
from feedsvc.store import Store
from feedsvc.web import create_app
from tests.support.stores import as_revision_0004

TOPIC = "security-cooperation"
BROKEN_PATH = "/gone/news.html"
OUTSIDER = {"REMOTE_ADDR": "203.0.113.9"}


def write(tmp_path: Path, server: PageServer, service_extra: str = "") -> Path:
    """Two topics: the institute's page, and one whose only source answers 404."""
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[service]
database = "sqlite:///var/feedsvc.sqlite3"
base_url = "http://feeds.test"
{service_extra}
[ingest]
{FAST_INGEST}
[[topics]]
slug = "{TOPIC}"
title = "Security Cooperation"
  [[topics.sources]]
  url = "{server.url(TOPIC_PATH)}"
  preset = "rand-topic"

[[topics]]
slug = "gone"
title = "A Site That Moved"
  [[topics.sources]]
  url = "{server.url(BROKEN_PATH)}"
  [topics.sources.selectors]
  item = "article"
  title = "h2"
  link = "h2 a"
""",
        encoding="utf-8",
    )
    return path


def ingest_both(config: Config, server: PageServer) -> Store:
    """Ingest the 2015 capture, then the 2024 one; the moved site fails both times."""
    prepare(config)
    store = Store(config.service.database)
    for capture in ("rand-2015.html", "rand-2024.html"):
        server.serve(TOPIC_PATH, page(capture))
        fetcher = make_fetcher(config)
        try:
            run_cycle(store, fetcher, config, targets(config))
        finally:
            fetcher.close()
    return store


@pytest.fixture
def two_topics(tmp_path: Path, server: PageServer) -> Iterator[tuple[Config, Store]]:
    config = load(write(tmp_path, server))
    store = ingest_both(config, server)
    yield config, store
    store.close()


@pytest.fixture
def live(two_topics: tuple[Config, Store]) -> Iterator[str]:
    httpd = make_server("127.0.0.1", 0, create_app(two_topics[0]), threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(10)


def cells(table: html.HtmlElement) -> dict[str, str]:
    return {
        row.xpath("string(th)"): " ".join(row.xpath("string(td)").split())
        for row in table.xpath(".//tr")
    }


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_chromium_shows_every_source_on_the_status_page(
    live: str, two_topics: tuple[Config, Store], tmp_path: Path
) -> None:
    _, store = two_topics
    document = html.fromstring(dump_dom(f"{live}/status", tmp_path / "profile"))
    assert not document.xpath("//script")
    good, broken = document.xpath("//table[contains(@class, 'source-status')]")
    stored = store.member_count(FeedKey(topic=TOPIC))
    assert stored > 20
    assert cells(good)["state"] == "ok"
    assert cells(good)["items stored"] == str(stored)
    assert cells(good)["items on the last page"] == "22"
    assert cells(good)["undated items"] == "0"
    assert cells(good)["last error"] == "none"
    assert cells(good)["next run"].startswith("about 20")
    assert cells(broken)["state"] == "failing"
    assert "HTTP 404" in cells(broken)["last error"]
    assert cells(broken)["last success"] == "never"
    good_runs, broken_runs = document.xpath("//table[contains(@class, 'runs')]")
    rows = [
        [" ".join(td.text_content().split()) for td in tr.xpath("td")]
        for tr in good_runs.xpath(".//tr[td]")
    ]
    assert [r[1] for r in rows] == ["fetched", "fetched"]
    assert [r[2] for r in rows] == ["22", "21"]
    assert all(r[4].endswith(" s") for r in rows)
    assert [td.text_content() for td in broken_runs.xpath(".//tr/td[2]")] == ["error", "error"]
    links = document.xpath("//a/@href")
    assert f"http://feeds.test/topics/{TOPIC}/feed.atom" in links
    assert "http://feeds.test/topics/gone/feed.rss" in links


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_chromium_shows_topic_state_and_newest_items_on_the_index(
    live: str, two_topics: tuple[Config, Store], tmp_path: Path
) -> None:
    _, store = two_topics
    document = html.fromstring(dump_dom(f"{live}/", tmp_path / "profile"))
    text = " ".join(document.text_content().split())
    stored = store.member_count(FeedKey(topic=TOPIC))
    assert f"{stored} items stored; last successful fetch 20" in text
    assert "Nothing fetched yet: the first ingest has not succeeded." in text
    assert "Failing source:" in text and "HTTP 404 Not Found" in text
    newest = store.entries(FeedKey(topic=TOPIC), 5)
    titles = [
        " ".join(a.text_content().split()) for a in document.xpath("//ul[@class='newest']/li//a")
    ]
    assert titles == [" ".join(item.title.split()) for item in newest]
    images = document.xpath("//ul[@class='newest']/li/img/@src")
    assert images == [item.image_url for item in newest if item.image_url]
    assert newest[0].type_label in text
    topic = html.fromstring(dump_dom(f"{live}/topics/gone/", tmp_path / "profile"))
    assert "HTTP 404 Not Found" in topic.xpath("string(//div[contains(@class, 'failing')])")


def test_metrics_are_counted_from_the_store(two_topics: tuple[Config, Store]) -> None:
    config, store = two_topics
    client = create_app(config).test_client()
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    runs = {
        (s.labels["topic"], s.labels["outcome"]): s.value
        for s in families["feedsvc_ingest_runs"].samples
    }
    assert runs == {(TOPIC, "fetched"): 2.0, ("gone", "error"): 2.0}
    items = {s.labels["topic"]: s.value for s in families["feedsvc_items"].samples}
    assert items == {TOPIC: store.member_count(FeedKey(topic=TOPIC)), "gone": 0}
    failing = {s.labels["topic"]: s.value for s in families["feedsvc_source_failing"].samples}
    assert failing == {TOPIC: 0.0, "gone": 1.0}
    durations = {s.name: s for s in families["feedsvc_ingest_duration_seconds"].samples}
    assert durations["feedsvc_ingest_duration_seconds_count"].value == 4
    assert durations["feedsvc_ingest_duration_seconds_sum"].value > 0


def test_operator_pages_are_refused_outside_admin_networks(
    two_topics: tuple[Config, Store],
) -> None:
    client = create_app(two_topics[0]).test_client()
    for path in ("/status", "/metrics"):
        response = client.get(path, environ_base=OUTSIDER)
        assert response.status_code == 403
        assert response.text == (
            f"403 Forbidden: {path} is for operators: 203.0.113.9 is not in [service] admin_networks\n"
        )
    for public in ("/", f"/topics/{TOPIC}/", "/feeds.opml", f"/topics/{TOPIC}/feed.atom"):
        assert client.get(public, environ_base=OUTSIDER).status_code == 200, public


def test_an_admin_token_is_required_when_set(tmp_path: Path, server: PageServer) -> None:
    extra = 'admin_networks = ["203.0.113.0/24"]\nadmin_token = "s3cret-token"\n'
    config = load(write(tmp_path, server, extra))
    prepare(config)
    client = create_app(config).test_client()
    assert client.get("/status").status_code == 403  # loopback is no longer listed
    refused = client.get("/metrics", environ_base=OUTSIDER)
    assert refused.status_code == 403 and "Authorization: Bearer" in refused.text
    wrong = {"Authorization": "Bearer guess"}
    assert client.get("/status", environ_base=OUTSIDER, headers=wrong).status_code == 403
    right = {"Authorization": "Bearer s3cret-token"}
    assert client.get("/status", environ_base=OUTSIDER, headers=right).status_code == 200
    assert client.get("/metrics", environ_base=OUTSIDER, headers=right).status_code == 200


def test_a_bad_admin_network_names_the_key(tmp_path: Path, server: PageServer) -> None:
    path = write(tmp_path, server, 'admin_networks = ["10.0.0.0/33"]\n')
    checked = subprocess.run(
        [sys.executable, "-m", "feedsvc.cli", "--config", str(path), "check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 2
    assert "service.admin_networks: expected CIDR blocks" in checked.stderr


def test_each_ingest_error_is_printed_once(tmp_path: Path, server: PageServer) -> None:
    server.serve(TOPIC_PATH, page("rand-2015.html"))
    path = write(tmp_path, server)
    result = subprocess.run(
        [sys.executable, "-m", "feedsvc.cli", "--config", str(path), "ingest"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert output.count("HTTP 404 Not Found") == 1, output
    assert f"gone {server.url(BROKEN_PATH)}: error: fetch: HTTP 404" in result.stdout


def test_runs_stored_before_outcomes_were_kept_read_as_fetched(
    tmp_path: Path, server: PageServer
) -> None:
    config = load(write(tmp_path, server))
    ingest_both(config, server).close()
    database = make_url(config.service.database).database
    as_revision_0004(database)  # before runs kept their outcome and duration
    with sqlite3.connect(database) as db:  # and before failed runs had a row of their own
        db.execute("DELETE FROM ingest_runs WHERE items_on_page IS NULL")
    prepare(config)  # what `feedsvc migrate` runs first: migration 0005 adds the columns
    client = create_app(config).test_client()
    store = Store(config.service.database)
    try:
        runs = store.recent_runs(TOPIC, server.url(TOPIC_PATH))
        assert [(r.outcome, r.items_on_page, r.duration_seconds) for r in runs] == [
            ("fetched", 22, None),
            ("fetched", 21, None),
        ]
        assert "<td>\u2013</td>" in client.get("/status").text
        fetcher = make_fetcher(config)
        try:
            run_cycle(store, fetcher, config, targets(config))
        finally:
            fetcher.close()
        newest = store.recent_runs(TOPIC, server.url(TOPIC_PATH))[0]
        # a store from before fingerprints re-extracts once (the same page, read again)
        assert newest.outcome == "reextracted" and newest.duration_seconds is not None
    finally:
        store.close()
