"""Weekly digests of the two real captures: one entry per closed week with items, ids that never change."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import feedparser
import pytest
from conftest import TOPIC_PATH, PageServer, expected, page, write_config
from flask.testing import FlaskClient
from lxml import html as lxml_html
from test_ingest import ingest_both

from feedsvc.config import Config, load
from feedsvc.fetch.client import make_fetcher
from feedsvc.jobs.cycle import prepare, run_cycle, targets
from feedsvc.keys import DigestKey
from feedsvc.model import StoredItem
from feedsvc.publish import live
from feedsvc.publish.digest import closed_weeks, week_start
from feedsvc.publish.publisher import publish_digests
from feedsvc.store import Store
from feedsvc.web import create_app

TOPIC = "security-cooperation"
LOCAL = ZoneInfo("America/Los_Angeles")  # the preset's zone: the topic's weeks are LA weeks
DIGEST = f"/topics/{TOPIC}/digest/weekly"
ID_BASE = f"http://feeds.test{DIGEST}/"


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def expected_weeks(*captures: str) -> list[tuple[str, list[dict]]]:
    """(ISO week, its items) for every week that has items in the captures, newest first."""
    weeks: dict[str, list[dict]] = {}
    for capture in captures:
        for item in expected(capture):
            weeks.setdefault(iso_week(date.fromisoformat(item["date"])), []).append(item)
    return sorted(weeks.items(), reverse=True)


def week_end(label: str) -> datetime:
    """The Monday 00:00 in Los Angeles that closes ISO week `label`, in UTC."""
    year, week = label.split("-W")
    monday = date.fromisocalendar(int(year), int(week), 1) + timedelta(days=7)
    return datetime.combine(monday, time(), LOCAL).astimezone(UTC)


@pytest.fixture
def client(server: PageServer, run_ingest, config: Config) -> FlaskClient:
    """The app after both captures were ingested over HTTP."""
    ingest_both(server, run_ingest)
    return create_app(config).test_client()


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_one_entry_per_week_with_that_weeks_items(client: FlaskClient, fmt: str) -> None:
    response = client.get(f"{DIGEST}.{fmt}")
    assert response.status_code == 200
    parsed = feedparser.parse(response.data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    weeks = expected_weeks("rand-2015.expected.json", "rand-2024.expected.json")
    assert len(weeks) == 22 and sum(len(items) for _, items in weeks) == 43
    assert [e.id for e in parsed.entries] == [ID_BASE + label for label, _ in weeks]
    for entry, (label, items) in zip(parsed.entries, weeks, strict=True):
        assert entry.published_parsed[:6] == week_end(label).timetuple()[:6]
        assert f"({len(items)} item" in entry.title
        content = entry.content[0].value
        linked = {urlsplit(link).path for link in content_links(content)}
        assert linked == {urlsplit(item["link"]).path for item in items}
        for item in items:  # relative images resolve against the fixture server: compare paths
            if item["image_url"]:
                assert urlsplit(item["image_url"]).path in content


def content_links(content: str) -> list[str]:
    """Every <a href> of an entry's HTML content."""
    return [a.get("href") for a in lxml_html.fromstring(f"<div>{content}</div>").iter("a")]


def test_json_digest_has_the_shape_of_every_json_feed(client: FlaskClient) -> None:
    digest = json.loads(client.get(f"{DIGEST}.json").data)
    feed = json.loads(client.get(f"/topics/{TOPIC}/feed.json").data)
    assert digest.keys() == feed.keys() - {"next_url"}
    assert digest["feed_url"] == f"http://feeds.test{DIGEST}.json"
    item_keys = {key for item in feed["items"] for key in item}
    assert all(item.keys() <= item_keys for item in digest["items"])
    assert digest["items"][0]["date_published"] == week_end("2024-W09").isoformat()
    xml = feedparser.parse(client.get(f"{DIGEST}.atom").data)
    assert [i["id"] for i in digest["items"]] == [e.id for e in xml.entries]
    pictured = [i for i in digest["items"] if "image" in i]
    assert pictured and all(i["image"] in i["content_html"] for i in pictured)


def test_ids_and_bytes_hold_across_rerenders_and_reingests(
    client: FlaskClient, server: PageServer, run_ingest, store: Store, config: Config
) -> None:
    first = client.get(f"{DIGEST}.atom")
    publish_digests(store, config, {TOPIC}, datetime.now(UTC))  # render again: same bytes
    assert client.get(f"{DIGEST}.atom").data == first.data
    server.serve(TOPIC_PATH, page("rand-2015.html"))
    [report] = run_ingest()  # the old capture again: nothing new, nothing edited
    assert (report.new, report.updated) == (0, 0)
    again = client.get(f"{DIGEST}.atom", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    by_date = client.get(
        f"{DIGEST}.rss", headers={"If-Modified-Since": first.headers["Last-Modified"]}
    )
    assert by_date.status_code == 304


def test_only_closed_weeks_count_and_a_closing_week_renders_again(
    client: FlaskClient, store: Store, config: Config
) -> None:
    topic = config.topics[0]
    wednesday = datetime(2023, 9, 20, 12, tzinfo=LOCAL)  # in 2023-W38, which is still open
    publish_digests(store, config, {TOPIC}, wednesday)
    out = store.rendered(DigestKey(TOPIC), "atom", 50)
    assert out.stale_at == datetime(2023, 9, 25, tzinfo=LOCAL)
    ids = [e.id for e in feedparser.parse(out.body).entries]
    assert ids[:2] == [ID_BASE + "2023-W37", ID_BASE + "2023-W35"]  # W36 had no items
    # Until the week closes the digest is what was kept; once it has closed, W38 appears.
    sunday = datetime(2023, 9, 24, 23, 59, tzinfo=LOCAL)
    assert live.digest(store, config, topic, "atom", sunday).body == out.body
    monday = datetime(2023, 9, 25, 0, 0, 1, tzinfo=LOCAL)
    closed = feedparser.parse(live.digest(store, config, topic, "atom", monday).body)
    assert [e.id for e in closed.entries][:2] == [ID_BASE + "2023-W38", ID_BASE + "2023-W37"]
    # The ingest-side check renders every digest whose week has closed, without a request.
    publish_digests(store, config, {TOPIC}, wednesday)
    publish_digests(store, config, set(), monday)
    assert store.rendered(DigestKey(TOPIC), "rss", 50).stale_at == datetime(
        2023, 10, 2, tzinfo=LOCAL
    )


def test_the_digest_keeps_the_newest_weeks(tmp_path: Path, server: PageServer) -> None:
    server.serve(TOPIC_PATH, page("rand-2024.html"))
    config = load(
        write_config(tmp_path, server.url(TOPIC_PATH), extra="[feeds]\ndefault_limit = 5\n")
    )
    prepare(config)
    client = create_app(config).test_client()
    store = Store(config.service.database)
    fetcher = make_fetcher(config)
    run_cycle(store, fetcher, config, targets(config))
    fetcher.close()
    store.close()
    parsed = feedparser.parse(client.get(f"{DIGEST}.atom").data)
    weeks = expected_weeks("rand-2024.expected.json")[:5]
    assert [e.id for e in parsed.entries] == [ID_BASE + label for label, _ in weeks]


def test_weeks_follow_the_topics_time_zone() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    monday_early = datetime(2023, 9, 18, 0, 30, tzinfo=berlin)  # still Sunday in UTC
    sunday_late = datetime(2023, 9, 17, 23, 30, tzinfo=berlin)
    items = [stored(monday_early), stored(sunday_late)]
    weeks = closed_weeks([items], berlin, 10)
    assert [(w.label, len(w.items)) for w in weeks] == [("2023-W38", 1), ("2023-W37", 1)]
    assert weeks[1].end == datetime(2023, 9, 18, tzinfo=berlin)
    assert week_start(monday_early.astimezone(UTC), berlin) == datetime(2023, 9, 18, tzinfo=berlin)
    assert [w.label for w in closed_weeks([items], UTC, 10)] == ["2023-W37"]


def stored(published: datetime) -> StoredItem:
    when = published.astimezone(UTC)
    return StoredItem(
        guid=f"https://example.org/{when:%H%M}",
        link=f"https://example.org/{when:%H%M}",
        title="An item",
        summary_html="",
        summary_text="",
        type_slug="report",
        type_label="Report",
        image_url=None,
        image_caption=None,
        image_credit=None,
        author=None,
        published=when,
        updated=when,
        first_seen=when,
        order_key=f"{when:%Y%m%d%H%M%S}",
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("/topics/nope/digest/weekly.atom", "unknown topic 'nope'"),
        (f"{DIGEST}.xml", "unknown feed format 'xml'"),
    ],
)
def test_unknown_digests_are_404(client: FlaskClient, url: str, reason: str) -> None:
    response = client.get(url)
    assert response.status_code == 404 and reason in response.text


def test_weekly_counts_match_the_captures(client: FlaskClient) -> None:
    parsed = feedparser.parse(client.get(f"{DIGEST}.atom").data)
    counts = Counter(
        {e.id.rsplit("/", 1)[1]: int(e.title.split("(")[1].split()[0]) for e in parsed.entries}
    )
    weeks = expected_weeks("rand-2015.expected.json", "rand-2024.expected.json")
    assert counts == Counter({label: len(items) for label, items in weeks})
