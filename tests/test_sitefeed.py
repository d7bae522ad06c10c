"""Sources with `kind = "feed"`: a site's own Atom or RSS feed, read with feedparser, kept
beyond the feed's window and split into per-type feeds the site does not offer."""

from __future__ import annotations

from pathlib import Path

import feedparser
from conftest import FIXTURES, PageServer, write_config

from feedsvc.config import load
from feedsvc.fetch.client import make_fetcher
from feedsvc.jobs.cycle import prepare, run_cycle, targets
from feedsvc.keys import FeedKey
from feedsvc.store import Store
from feedsvc.web import create_app

FEEDS = FIXTURES / "feeds"
TOPIC = "security-cooperation"
ATOM = {"Content-Type": "application/atom+xml; charset=utf-8"}
RSS = {"Content-Type": "application/rss+xml"}


def feed_source(tmp_path: Path, url: str, extra: str = "") -> tuple:
    path = write_config(tmp_path, url)
    path.write_text(path.read_text().replace('preset = "rand-topic"', f'kind = "feed"\n  {extra}'))
    config = load(path)
    prepare(config)
    store = Store(config.service.database)
    return config, store


def run(config, store) -> None:
    fetcher = make_fetcher(config)
    [report] = run_cycle(store, fetcher, config, targets(config))
    fetcher.close()
    assert report.ok, report.error


def test_atom_history_is_kept_after_entries_leave_the_window(
    tmp_path: Path, server: PageServer
) -> None:
    server.serve("/pubs/articles.xml", (FEEDS / "articles-1.atom").read_bytes(), headers=ATOM)
    config, store = feed_source(tmp_path, server.url("/pubs/articles.xml"))
    run(config, store)
    server.serve("/pubs/articles.xml", (FEEDS / "articles-2.atom").read_bytes(), headers=ATOM)
    run(config, store)

    items = {i.title: i for i in store.entries(FeedKey(topic=TOPIC), 50)}
    assert list(items) == [
        "Deterrence in the Baltics",
        "Coalitions That Last",
        "Arms Transfers and Influence",
        "Training Foreign Forces",
    ]
    coalitions = items["Coalitions That Last"]
    assert coalitions.link == "https://www.rand.org/pubs/articles/2024/coalitions.html"
    assert coalitions.published.isoformat() == "2024-03-07T15:00:00+00:00"
    assert coalitions.summary_html == "<p>What keeps <em>coalitions</em> together.</p>"
    assert coalitions.image_url == "https://www.rand.org/content/dam/rand/image/coalitions.jpg"
    assert (
        items["Arms Transfers and Influence"].published.isoformat() == "2024-03-01T13:00:00+00:00"
    )
    training = items["Training Foreign Forces"]
    assert training.published.isoformat() == "2024-02-20T12:00:00+00:00"  # only <updated>
    assert training.summary_text == "Lessons from two decades of training <programs>."

    client = create_app(config).test_client()
    reports = feedparser.parse(client.get(f"/topics/{TOPIC}/types/report/feed.atom").data)
    assert [e.title for e in reports.entries] == [
        "Arms Transfers and Influence",
        "Training Foreign Forces",
    ]
    commentary = feedparser.parse(client.get("/types/commentary/feed.rss").data)
    assert [e.title for e in commentary.entries] == [
        "Deterrence in the Baltics",
        "Coalitions That Last",
    ]


def test_rss_entries_are_chosen_by_include_and_exclude_and_typed_by_category(
    tmp_path: Path, server: PageServer
) -> None:
    server.serve("/news/feed.rss", (FEEDS / "news.rss").read_bytes(), headers=RSS)
    config, store = feed_source(
        tmp_path,
        server.url("/news/feed.rss"),
        'include = "(?i)security|defen[cs]e"\n  exclude = "(?i)sponsored"\n'
        '  type_map = { "Foreign Affairs" = "journal-article", podcast = "podcast" }',
    )
    run(config, store)
    items = {i.title: i for i in store.entries(FeedKey(topic=TOPIC), 50)}
    assert set(items) == {"Defense Budgets After the War", "Security on the High Seas"}
    budgets = items["Defense Budgets After the War"]
    assert (budgets.type_slug, budgets.type_label) == ("journal-article", "Journal Article")
    assert budgets.published.isoformat() == "2024-03-05T13:00:00+00:00"  # EST
    assert budgets.image_url == "https://cdn.eastern-institute.example/img/budgets.jpg"
    assert budgets.author == "Ana Lopez"
    seas = items["Security on the High Seas"]
    assert (seas.type_slug, seas.type_label) == ("podcast", "Podcast")
    assert seas.published.isoformat() == "2024-02-19T00:00:00+00:00"  # -0400 is behind UTC
    assert seas.image_url == "https://cdn.eastern-institute.example/img/high-seas.jpg"
    assert (seas.image_caption, seas.image_credit) == (
        "A frigate, photo by Navy Media",
        "Navy Media",
    )
    assert seas.summary_text == "An episode on naval security."


def test_a_page_that_is_no_feed_is_reported(tmp_path: Path, server: PageServer) -> None:
    server.serve("/news/feed.rss", b"<html><body>Moved</body></html>", headers=RSS)
    config, store = feed_source(tmp_path, server.url("/news/feed.rss"))
    fetcher = make_fetcher(config)
    [report] = run_cycle(store, fetcher, config, targets(config))
    fetcher.close()
    assert not report.ok and report.error.startswith("extract: not an RSS or Atom feed")
