"""[[custom_feeds]]: filtered feeds across topics, rendered on change by the write path and
served like every feed (validators, 304, archives, WebSub, the static tier, OPML, index)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from conftest import PageServer
from faults import wait_until
from test_websub import Hub

from feedsvc.config import ConfigError, load
from feedsvc.fetch.client import make_fetcher
from feedsvc.jobs.cycle import prepare, publish_and_export, run_cycle, targets
from feedsvc.store import Store
from feedsvc.web import create_app
from tests.support.custom import PAGES, two_topics

pytestmark = pytest.mark.both_databases

CLI = [sys.executable, "-m", "feedsvc.cli"]

UKRAINE = r"""
[[custom_feeds]]
slug = "ukraine"
title = "Ukraine, every topic"
topics = ["security-cooperation", "europe"]
types = ["report", "commentary"]
include = ["Ukraine", "Kyiv", '"grain corridor"', '/\bZelensk(y|yi)\b/']
exclude = ["podcast"]
"""
MATCHING = {
    "Air Defence for Ukraine",  # a word, in two topics: once
    "A Long Winter in Kyiv",
    "Black Sea Ports Under Pressure",  # "grain corridor", in other case and spacing
    "A Visit to Brussels",  # the regex, in the summary
    "On Spelling Names",  # the regex, in the author
}
# Left out: "Ukraine Weekly" (exclude: podcast), "Ukraine Aid Tracker" (a tool),
# "Ukrainian Elections in Wartime" (not the word), "Baltic Grids" (no term).


def write(
    tmp_path: Path, server: PageServer, feeds: str, hub: str = "", database: str = ""
) -> Path:
    extra = f'[websub]\nhub = "{hub}"\n' if hub else ""
    path = two_topics(tmp_path, server, extra, database)
    path.write_text(path.read_text() + feeds)
    return path


def cycle(path: Path) -> Store:
    config = load(path)
    prepare(config)
    store = Store(config.service.database)
    fetcher = make_fetcher(config)
    try:
        for report in run_cycle(store, fetcher, config, targets(config)):
            assert report.ok, report.error
    finally:
        fetcher.close()
    return store


def test_a_filtered_feed_across_two_topics(
    tmp_path: Path, server: PageServer, database_url: str
) -> None:
    hub = Hub()
    try:
        path = write(tmp_path, server, UKRAINE, hub.url, database_url)
        store = cycle(path)
        pinged = hub.pinged_feeds()
    finally:
        hub.close()
    assert "/feeds/ukraine" in pinged
    config = load(path)
    app = create_app(config).test_client()
    for fmt in ("rss", "atom"):
        answer = app.get(f"/feeds/ukraine/feed.{fmt}")
        assert answer.status_code == 200
        parsed = feedparser.parse(answer.data)
        assert not parsed.bozo, parsed.bozo_exception
        assert parsed.feed.title == "Ukraine, every topic"
        titles = [entry.title for entry in parsed.entries]
        assert sorted(titles) == sorted(MATCHING)
        assert titles[0] in ("Air Defence for Ukraine", "A Visit to Brussels")  # newest first
        again = app.get(
            f"/feeds/ukraine/feed.{fmt}", headers={"If-None-Match": answer.headers["ETag"]}
        )
        assert again.status_code == 304 and again.data == b""
    feed = json.loads(app.get("/feeds/ukraine/feed.json").data)
    assert {item["title"] for item in feed["items"]} == MATCHING
    assert feed["hubs"][0]["url"] == hub.url
    archive = json.loads(app.get("/feeds/ukraine/archive/1.json").data)
    assert {item["title"] for item in archive["items"]} == MATCHING
    assert (config.publish.directory / "feeds/ukraine/feed.atom").read_bytes() == app.get(
        "/feeds/ukraine/feed.atom"
    ).data  # the static tier's file
    opml = app.get("/feeds.opml").text
    assert "http://feeds.test/feeds/ukraine/feed.atom" in opml
    assert "/feeds/ukraine/" not in app.get("/feeds.opml?set=topics").text  # overlap-free sets
    assert "Ukraine, every topic" in app.get("/").text
    missing = app.get("/feeds/ukrane/feed.rss")
    assert missing.status_code == 404 and "ukraine" in missing.text

    # Nothing changed: nothing is rendered again.
    before = app.get("/feeds/ukraine/feed.atom").headers["ETag"]
    store.close()
    cycle(path).close()
    assert (
        create_app(config).test_client().get("/feeds/ukraine/feed.atom").headers["ETag"] == before
    )


def test_a_changed_definition_filters_the_store_again(
    tmp_path: Path, server: PageServer, database_url: str
) -> None:
    path = write(tmp_path, server, UKRAINE, database=database_url)
    cycle(path).close()
    path.write_text(path.read_text().replace('include = ["Ukraine", "Kyiv",', 'include = ["Kyiv",'))
    path.write_text(path.read_text().replace("'\"grain corridor\"', '/\\bZelensk(y|yi)\\b/'", ""))
    config = load(path)
    assert config.custom_feeds[0].include == ("Kyiv",)
    cycle(path).close()
    app = create_app(config).test_client()
    parsed = feedparser.parse(app.get("/feeds/ukraine/feed.rss").data)
    assert [entry.title for entry in parsed.entries] == ["A Long Winter in Kyiv"]
    archive = json.loads(app.get("/feeds/ukraine/archive/1.json").data)
    assert [item["title"] for item in archive["items"]] == ["A Long Winter in Kyiv"]

    path.write_text(path.read_text().split("[[custom_feeds]]")[0])  # the feed is removed
    cycle(path).close()
    gone = create_app(load(path)).test_client().get("/feeds/ukraine/feed.rss")
    assert gone.status_code == 404


def test_a_new_item_joins_on_the_next_ingest(
    tmp_path: Path, server: PageServer, database_url: str
) -> None:
    path = write(tmp_path, server, UKRAINE, database=database_url)
    cycle(path).close()
    page = (PAGES / "europe.html").read_text()
    server.serve(
        "/europe.html",
        page.replace(
            '<ul class="results">',
            '<ul class="results">\n  <li class="result"><p class="type">Commentary</p>'
            '<h3><a href="/commentary/2024/03/odesa.html">Odesa Rebuilds</a></h3>'
            '<p class="date">Mar 10, 2024</p><p class="summary">Ukraine\'s port city, a year on.</p></li>',
        ).encode(),
    )
    cycle(path).close()
    app = create_app(load(path)).test_client()
    parsed = feedparser.parse(app.get("/feeds/ukraine/feed.atom").data)
    assert parsed.entries[0].title == "Odesa Rebuilds"
    assert len(parsed.entries) == len(MATCHING) + 1


@pytest.mark.parametrize(
    ("block", "key", "message"),
    [
        (
            'slug = "x"\ntitle = "X"\ninclude = ["/(unclosed/"]',
            "custom_feeds[0].include[0]",
            "not a regular expression",
        ),
        (
            'slug = "x"\ntitle = "X"\ntopics = ["nowhere"]',
            "custom_feeds[0].topics",
            'unknown topic "nowhere"',
        ),
        ('slug = "Not A Slug"\ntitle = "X"', "custom_feeds[0].slug", "expected a slug"),
        (
            'slug = "x"\ntitle = "X"\nexclude = [\'"half\']',
            "custom_feeds[0].exclude[0]",
            "unbalanced quote",
        ),
        (
            'slug = "x"\ntitle = "X"\ninclude = "Ukraine"',
            "custom_feeds[0].include",
            "expected an array",
        ),
        ('slug = "x"\ntitle = "X"\nfilter = ["a"]', "custom_feeds[0].filter", "unknown key"),
        ('slug = "x"', "custom_feeds[0].title", "missing"),
    ],
)
def test_a_bad_definition_names_the_file_and_key(
    tmp_path: Path, server: PageServer, block: str, key: str, message: str
) -> None:
    path = write(tmp_path, server, f"\n[[custom_feeds]]\n{block}\n")
    with pytest.raises(ConfigError) as raised:
        load(path)
    assert str(raised.value).startswith(f"{path}: {key}: "), str(raised.value)
    assert message in str(raised.value)


def test_duplicate_slugs_are_refused(tmp_path: Path, server: PageServer) -> None:
    path = write(tmp_path, server, UKRAINE + UKRAINE)
    with pytest.raises(ConfigError, match=r"custom_feeds\[1\]\.slug: duplicate custom feed slug"):
        load(path)


def test_a_hidden_item_leaves_the_filtered_feed_and_its_archive(
    tmp_path: Path, server: PageServer, database_url: str
) -> None:
    path = write(tmp_path, server, UKRAINE, database=database_url)
    cycle(path).close()
    config = load(path)
    store = Store(config.service.database)
    link = server.url("/commentary/2024/03/kyiv-winter.html")
    changed, _ = store.set_hidden([link], True, datetime.now(UTC), 50, "hide")
    assert changed == [link]
    publish_and_export(store, config)
    store.close()
    app = create_app(config).test_client()
    parsed = feedparser.parse(app.get("/feeds/ukraine/feed.atom").data)
    assert sorted(e.title for e in parsed.entries) == sorted(MATCHING - {"A Long Winter in Kyiv"})
    archive = json.loads(app.get("/feeds/ukraine/archive/1.json").data)
    assert "A Long Winter in Kyiv" not in {item["title"] for item in archive["items"]}


def test_a_feed_taken_out_of_the_config_leaves_every_published_directory(
    tmp_path: Path, server: PageServer, database_url: str
) -> None:
    """nginx serves the directory without asking the app: a dropped feed's files must go,
    on this host at start-up and on another host through its `export --follow`."""
    path = write(tmp_path, server, UKRAINE, database=database_url)
    cycle(path).close()
    other = tmp_path / "other-host"
    other.mkdir()
    other_path = write(other, server, UKRAINE, database=load(path).service.database)
    other_folder = load(other_path).publish.directory / "feeds" / "ukraine"
    follow = subprocess.Popen([*CLI, "--config", str(other_path), "export", "--follow"])
    try:
        wait_until(lambda: (other_folder / "feed.atom.gz.headers").exists(), seconds=30)
        folder = load(path).publish.directory / "feeds" / "ukraine"
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            f"feed.{fmt}{gz}{headers}"
            for fmt in ("rss", "atom", "json")
            for gz in ("", ".gz")
            for headers in ("", ".headers")
        )
        foreign = folder.parent.parent / "about" / "feed.atom"  # not a feed's folder
        foreign.parent.mkdir()
        foreign.write_text("the site's own file")
        path.write_text(path.read_text().replace(UKRAINE, ""))
        prepare(load(path))  # the next start-up with the feed taken out
        assert not folder.exists()
        assert foreign.read_text() == "the site's own file"
        assert (folder.parent.parent / "topics" / "europe" / "feed.atom").exists()
        assert (
            create_app(load(path)).test_client().get("/feeds/ukraine/feed.atom").status_code == 404
        )
        wait_until(lambda: not other_folder.exists(), seconds=10)
        assert (other_folder.parent.parent / "topics" / "europe" / "feed.atom").exists()
    finally:
        follow.terminate()
        follow.wait(10)
