"""Ingest over real HTTP into a real store (SQLite and PostgreSQL): both captures, re-ingests,
edits, items that leave."""

from __future__ import annotations

from collections import Counter
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from conftest import TOPIC_PATH, PageServer, expected, page, write_config

from feedsvc.config import Config, load
from feedsvc.fetch.client import make_fetcher
from feedsvc.ingest.source import ingest
from feedsvc.jobs.cycle import run_cycle, targets
from feedsvc.keys import FeedKey
from feedsvc.publish.gather import feed_doc
from feedsvc.publish.render import render_all
from feedsvc.store import Store

TOPIC = FeedKey(topic="security-cooperation")
LOCAL = ZoneInfo("America/Los_Angeles")
pytestmark = pytest.mark.both_databases


def all_items(store: Store) -> list:
    return store.entries(TOPIC, 1000)


def ingest_both(server: PageServer, run_ingest) -> None:
    assert [r.line().split(": ", 1)[1] for r in run_ingest()] == [
        "fetched new=21 updated=0 unchanged=0"
    ]
    server.serve(TOPIC_PATH, page("rand-2024.html"))
    assert [r.line().split(": ", 1)[1] for r in run_ingest()] == [
        "fetched new=22 updated=0 unchanged=0"
    ]


def test_both_captures_keep_all_43_items_with_types_and_dates(
    server: PageServer, run_ingest, store: Store
) -> None:
    ingest_both(server, run_ingest)
    # Relative links resolve against the fixture server, absolute ones keep the site's host.
    stored = {urlsplit(item.guid).path: item for item in all_items(store)}
    wanted = expected("rand-2015.expected.json") + expected("rand-2024.expected.json")
    assert len(stored) == len(wanted) == 43 == store.count_items()
    for want in wanted:
        item = stored[urlsplit(want["link"]).path]
        assert item.title == want["title"]
        assert item.published.astimezone(LOCAL).date().isoformat() == want["date"]
        assert item.updated == item.published
    types = Counter(item.type_slug for item in stored.values())
    assert types == {"commentary": 30, "report": 10, "tool": 1, "rand-weekly-recap": 2}


def test_topic_order_is_newest_first_with_ties_in_page_order(
    server: PageServer, run_ingest, store: Store
) -> None:
    ingest_both(server, run_ingest)
    items = all_items(store)
    dates = [item.published for item in items]
    assert dates == sorted(dates, reverse=True)
    titles = [item.title for item in items]
    feb2 = [
        t
        for t, item in zip(titles, items, strict=True)
        if item.published.month == 2
        and item.published.year == 2015
        and item.published.astimezone(LOCAL).day == 2
    ]
    assert feb2 == [
        "The Afterparade: No Breakthroughs — and That's Just Fine",
        "The Days After a Deal with Iran: Implications for the Nuclear Nonproliferation Regime",
        "The Days After a Deal with Iran: Implications for the Air Force",
    ]
    assert titles[0] == "Yes to Striking Iranian-Backed Militants"
    assert titles[-1] == "Assessing Security Cooperation as a Preventive Tool"


def test_ingesting_again_changes_nothing(server: PageServer, run_ingest, store: Store) -> None:
    ingest_both(server, run_ingest)
    before = all_items(store)
    etag = store.rendered(TOPIC, "atom", 50).etag
    assert [r.outcome for r in run_ingest()] == ["same-bytes"]
    # Same items in new bytes (a changed ad, a timestamp): parsed, nothing written but last-seen.
    server.serve(TOPIC_PATH, page("rand-2024.html") + b"<!-- rendered at 12:01 -->")
    assert [r.line().split(": ", 1)[1] for r in run_ingest()] == [
        "fetched new=0 updated=0 unchanged=22"
    ]
    assert all_items(store) == before
    assert store.dirty_feeds() == []
    assert store.rendered(TOPIC, "atom", 50).etag == etag


def test_an_edited_item_keeps_its_guid_and_place(
    server: PageServer, run_ingest, store: Store
) -> None:
    run_ingest()
    old = {item.guid: item for item in all_items(store)}
    edited = page("rand-2015.html").replace(b"Salvaging Iraq", b"Salvaging Iraq, Revised")
    server.serve(TOPIC_PATH, edited)
    [report] = run_ingest()
    assert (report.new, report.updated, report.unchanged) == (0, 1, 20)
    new = {item.guid: item for item in all_items(store)}
    assert new.keys() == old.keys()
    [guid] = [g for g in new if new[g].title != old[g].title]
    assert new[guid].title == "Salvaging Iraq, Revised"
    assert new[guid].published == old[guid].published
    assert new[guid].updated > old[guid].updated
    assert [i.guid for i in all_items(store)] == list(old)


def test_items_that_leave_the_page_stay(
    server: PageServer, run_ingest, store: Store, config: Config
) -> None:
    run_ingest()
    server.serve(TOPIC_PATH, page("rand-2024.html"))
    run_ingest()
    server.serve(TOPIC_PATH, page("rand-2015.html"))
    [report] = run_ingest()
    assert (report.new, report.updated, report.unchanged) == (0, 0, 21)
    assert store.count_items() == 43
    status = store.source("security-cooperation", config.topics[0].sources[0].url)
    assert status.items_on_page == 21 and status.items_found == 43 and status.last_error is None


def test_a_failed_fetch_keeps_everything(
    server: PageServer, run_ingest, store: Store, config: Config
) -> None:
    run_ingest()
    before = all_items(store)
    body = store.rendered(TOPIC, "rss", 50).body
    server.serve(TOPIC_PATH, b"oops", status=500)
    [report] = run_ingest()
    assert not report.ok and report.error.startswith("fetch: HTTP 500")
    assert all_items(store) == before
    assert store.rendered(TOPIC, "rss", 50).body == body
    status = store.source("security-cooperation", config.topics[0].sources[0].url)
    assert status.last_error == report.error and status.failing_since is not None
    assert status.last_success_at is not None


def test_fetch_names_feedsvc_in_the_user_agent(server: PageServer, run_ingest) -> None:
    run_ingest()
    [(path, headers)] = server.requests
    assert path == TOPIC_PATH
    assert (
        headers["User-Agent"].startswith("feedsvc/")
        and "(+http://feeds.test)" in headers["User-Agent"]
    )


def test_more_pages_are_read_with_page_n(tmp_path, server: PageServer, database_url: str) -> None:
    server.serve(TOPIC_PATH, page("rand-2024.html"))
    server.serve(TOPIC_PATH + "?page=2", page("rand-2015.html"))
    config = load(
        write_config(
            tmp_path, server.url(TOPIC_PATH), source_extra="pages = 2", database=database_url
        )
    )
    store = Store(config.service.database)
    store.create_schema()
    [report] = run_cycle(store, make_fetcher(config), config, targets(config))
    assert (report.new, report.skipped) == (43, 0)
    items = store.entries(TOPIC, 100)
    # Page 2 is older; its first item shares no date with page 1, so order is by date alone.
    assert items[0].title == "Yes to Striking Iranian-Backed Militants"
    assert [p for p, _ in server.requests] == [TOPIC_PATH, TOPIC_PATH + "?page=2"]
    store.close()


def test_an_item_on_two_topics_belongs_to_both(
    tmp_path, server: PageServer, database_url: str
) -> None:
    server.serve(TOPIC_PATH, page("rand-2015.html"))
    server.serve("/topics/russia.html", page("rand-2015.html"))
    path = write_config(tmp_path, server.url(TOPIC_PATH), database=database_url)
    path.write_text(
        path.read_text()
        + f"""
[[topics]]
slug = "russia"
title = "Russia"
  [[topics.sources]]
  url = "{server.url("/topics/russia.html")}"
  preset = "rand-topic"
"""
    )
    config = load(path)
    store = Store(config.service.database)
    store.create_schema()
    reports = run_cycle(store, make_fetcher(config), config, targets(config))
    assert [(r.topic, r.new, r.unchanged) for r in reports] == [
        ("security-cooperation", 21, 0),
        ("russia", 0, 21),
    ]
    russia = store.entries(FeedKey(topic="russia"), 100)
    assert len(russia) == 21 and all(i.topics == ("russia", "security-cooperation") for i in russia)
    commentary = store.entries(FeedKey(type="commentary"), 100)
    assert len(commentary) == len({i.guid for i in commentary}) == 13  # each item once
    store.close()


def test_a_change_during_a_render_leaves_the_feed_dirty(
    server: PageServer, run_ingest, store: Store, config: Config
) -> None:
    """publish reads the feed's version first; a change landing mid-render must not be lost."""
    run_ingest()
    version = store.feed_version(TOPIC)
    rendered = render_all(feed_doc(store, config, TOPIC, 50))  # the render in flight
    server.serve(TOPIC_PATH, page("rand-2024.html"))
    ingest(store, make_fetcher(config), config, config.topics[0], config.topics[0].sources[0])
    store.save_rendered({(TOPIC, fmt, 50): out for fmt, out in rendered.items()})
    store.mark_rendered(TOPIC, version, final_pages=0, done=True)
    assert TOPIC in store.dirty_feeds()
    store.mark_rendered(TOPIC, store.feed_version(TOPIC), final_pages=0, done=True)
    assert TOPIC not in store.dirty_feeds()


def test_member_counts_are_kept_exactly_as_items_join_and_change_type(
    server: PageServer, run_ingest, store: Store
) -> None:
    """Archive pages follow from member counts kept at ingest; they must equal a real count."""
    from sqlalchemy import func, select

    from feedsvc.store.schema import topic_items

    ingest_both(server, run_ingest)
    retyped = page("rand-2024.html").replace(
        b'<p class="type">RAND Weekly Recap</p>', b'<p class="type">Commentary</p>', 1
    )
    server.serve(TOPIC_PATH, retyped)
    [report] = run_ingest()
    assert report.updated == 1
    with store.engine.connect() as conn:
        exact = {
            FeedKey(topic="security-cooperation"): conn.scalar(
                select(func.count()).select_from(topic_items)
            ),
            **{
                FeedKey(type=t): n
                for t, n in conn.execute(
                    select(topic_items.c.type_slug, func.count()).group_by(topic_items.c.type_slug)
                )
            },
        }
    assert exact[FeedKey(type="rand-weekly-recap")] == 1 and exact[FeedKey(type="commentary")] == 31
    for key, count in exact.items():
        assert store.member_count(key) == count, key
        if key.type:
            assert store.member_count(FeedKey(topic="security-cooperation", type=key.type)) == count
