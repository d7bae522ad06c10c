"""Every feed the service serves (from SQLite and from PostgreSQL), read back by feedparser and
compared with what was ingested."""

from __future__ import annotations

import json
from email.utils import parsedate_to_datetime

import feedparser
import pytest
from conftest import TOPIC_PATH, PageServer, expected, page
from flask.testing import FlaskClient

from feedsvc.config import Config
from feedsvc.keys import FeedKey
from feedsvc.store import Store
from feedsvc.web import create_app

TOPIC = "security-cooperation"
TYPES = ["commentary", "rand-weekly-recap", "report", "tool"]
XML_FORMATS = {"rss": "application/rss+xml", "atom": "application/atom+xml"}
pytestmark = pytest.mark.both_databases


@pytest.fixture
def client(server: PageServer, run_ingest, config: Config) -> FlaskClient:
    """The app after both captures were ingested."""
    run_ingest()
    server.serve(TOPIC_PATH, page("rand-2024.html"))
    run_ingest()
    return create_app(config).test_client()


def every_feed() -> list[FeedKey]:
    return [FeedKey(topic=TOPIC)] + [
        key for t in TYPES for key in (FeedKey(type=t), FeedKey(topic=TOPIC, type=t))
    ]


def test_every_xml_feed_parses_and_matches_the_store(client: FlaskClient, store: Store) -> None:
    for key in every_feed():
        stored = store.entries(key, 50)
        assert stored, key
        for fmt, media_type in XML_FORMATS.items():
            response = client.get(f"/{key.path}/feed.{fmt}")
            assert response.status_code == 200
            assert response.mimetype == media_type
            parsed = feedparser.parse(response.data)
            assert not parsed.bozo, (key, fmt, parsed.get("bozo_exception"))
            assert [e.id for e in parsed.entries] == [i.guid for i in stored]
            assert [e.title for e in parsed.entries] == [i.title for i in stored]
            assert [e.link for e in parsed.entries] == [i.link for i in stored]
            published = [
                parsedate_to_datetime(e.published) if fmt == "rss" else e.published
                for e in parsed.entries
            ]
            if fmt == "rss":
                assert published == [i.published for i in stored]
            else:
                assert published == [i.published.isoformat() for i in stored]
            for entry, item in zip(parsed.entries, stored, strict=True):
                assert item.type_label in [tag.get("label") or tag.term for tag in entry.tags]
                assert entry.summary.startswith(item.summary_html[:40])
                if item.image_url:
                    assert [e.href for e in entry.enclosures] == [item.image_url]
                    assert entry.media_thumbnail[0]["url"] == item.image_url


def test_json_feed_has_the_same_items(client: FlaskClient, store: Store) -> None:
    for key in every_feed():
        response = client.get(f"/{key.path}/feed.json")
        assert response.mimetype == "application/feed+json"
        feed = json.loads(response.data)
        assert feed["version"] == "https://jsonfeed.org/version/1.1"
        stored = store.entries(key, 50)
        assert [i["id"] for i in feed["items"]] == [i.guid for i in stored]
        assert [i.get("image") for i in feed["items"]] == [i.image_url for i in stored]


def test_topic_feed_lists_all_43_newest_first(client: FlaskClient) -> None:
    parsed = feedparser.parse(client.get(f"/topics/{TOPIC}/feed.atom?limit=500").data)
    assert len(parsed.entries) == 43
    dates = [e.published_parsed for e in parsed.entries]
    assert dates == sorted(dates, reverse=True)
    assert len(feedparser.parse(client.get(f"/topics/{TOPIC}/feed.atom").data).entries) == 43
    assert len(feedparser.parse(client.get(f"/topics/{TOPIC}/feed.rss?limit=5").data).entries) == 5


def test_report_feed_holds_the_reports_of_both_captures(client: FlaskClient) -> None:
    parsed = feedparser.parse(client.get("/types/report/feed.atom").data)
    titles = {e.title for e in parsed.entries}
    # Labelled "Report" in 2015; typed by their /pubs/ links in 2024, where no label is shown.
    wanted = {
        i["title"] for i in expected("rand-2015.expected.json") if i["type_label"] == "Report"
    }
    wanted |= {
        "Deterring Russia and Iran",
        "Conference Proceedings on Indian and U.S. Security "
        "Cooperation: Defense Production, Indo-Pacific Region, and Afghanistan",
        "Toward a New Paradigm in U.S. Foreign Policy: Harnessing the Power of American "
        "Society in Pursuit of U.S. National Security Objectives",
    }
    assert titles == wanted and len(titles) == 10
    assert parsed.feed.title == "Report"


def test_feed_dates_are_stable_between_requests(client: FlaskClient) -> None:
    first = client.get(f"/topics/{TOPIC}/feed.rss")
    second = client.get(f"/topics/{TOPIC}/feed.rss")
    assert first.data == second.data and first.headers["ETag"] == second.headers["ETag"]
    parsed = feedparser.parse(first.data)
    assert parsed.feed.link.endswith(TOPIC_PATH)  # the source page is the feed's home
    assert parsed.feed.ttl == "30"


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [
        ("/topics/nope/feed.atom", 404, "unknown topic 'nope'"),
        ("/types/nope/feed.rss", 404, "unknown type 'nope'"),
        (f"/topics/{TOPIC}/types/nope/feed.rss", 404, "unknown type 'nope'"),
        (f"/topics/{TOPIC}/feed.xml", 404, "unknown feed format 'xml'"),
        (f"/topics/{TOPIC}/feed.atom?limit=0", 400, "limit must be a whole number from 1 to 500"),
        (f"/topics/{TOPIC}/feed.atom?limit=501", 400, "limit must be a whole number from 1 to 500"),
        (f"/topics/{TOPIC}/feed.atom?limit=ten", 400, "limit must be a whole number from 1 to 500"),
        ("/no/such/page", 404, "Not Found"),
    ],
)
def test_bad_requests_get_a_one_line_reason(
    client: FlaskClient, path: str, status: int, reason: str
) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert response.mimetype == "text/plain"
    assert reason in response.text and response.text.count("\n") == 1


def test_json_clients_get_json_errors(client: FlaskClient) -> None:
    response = client.get("/topics/nope/feed.json")
    assert response.status_code == 404
    assert response.json == {
        "error": "unknown topic 'nope'; expected one of: security-cooperation",
        "status": 404,
    }


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/types/Report/feed.atom", "unknown type 'Report'; did you mean 'report'?"),
        (
            "/types/Weekly-Recap/feed.rss",
            "unknown type 'Weekly-Recap'; did you mean 'rand-weekly-recap'?",
        ),
        (f"/topics/{TOPIC}/types/tools/feed.json", "unknown type 'tools'; did you mean 'tool'?"),
        ("/topics/security-cooperatoin/feed.atom", "did you mean 'security-cooperation'?"),
        ("/topics/Security Cooperation/", "did you mean 'security-cooperation'?"),
        (
            "/topics/zzz/digest/weekly.atom",
            "unknown topic 'zzz'; expected one of: security-cooperation",
        ),
    ],
)
def test_unknown_slugs_name_the_closest_ones(client: FlaskClient, path: str, reason: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert reason in (response.json["error"] if path.endswith(".json") else response.text)


def test_index_lists_every_feed_with_autodiscovery(client: FlaskClient) -> None:
    html = client.get("/").text
    for key in [FeedKey(topic=TOPIC)] + [FeedKey(type=t) for t in TYPES]:
        for fmt in ("rss", "atom", "json"):
            assert f'href="http://feeds.test/{key.path}/feed.{fmt}"' in html
    assert html.count('<link rel="alternate"') == 3 * (1 + len(TYPES))
    assert "RAND Weekly Recap" in html


def test_healthz_reports_each_source(client: FlaskClient, config: Config) -> None:
    health = client.get("/healthz").json
    assert health["status"] == "ok" and health["items"] == 43
    [source] = health["sources"]
    assert source["url"] == config.topics[0].sources[0].url
    assert source["state"] == "ok" and source["items_on_page"] == 22 and source["items_found"] == 43
    assert source["last_success"] == source["last_attempt"] and source["last_error"] is None
