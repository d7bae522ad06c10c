"""What polling readers see: validators, 304s, gzip, HEAD, cache hints, and bytes rendered once per change."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from pathlib import Path

import feedparser
import jsonschema
import pytest
from conftest import FIXTURES, TOPIC_PATH, PageServer, page
from faults import wait_until
from flask.testing import FlaskClient

from feedsvc.config import Config
from feedsvc.keys import FeedKey
from feedsvc.store import Store
from feedsvc.web import create_app

FEEDS = [
    "/topics/security-cooperation/feed",
    "/types/commentary/feed",
    "/topics/security-cooperation/types/report/feed",
]
FORMATS = ["rss", "atom", "json"]
pytestmark = pytest.mark.both_databases
NEW_ITEM = b"""<li><div class="text"><p class="type">Commentary</p>
<h3 class="title"><a href="/blog/2015/03/a-new-item.html">A New Item</a></h3>
<p class="desc">Fresh.</p><p class="date">Mar 5, 2015</p></div></li>"""


def with_new_item(body: bytes) -> bytes:
    marker = b'<ul class="teasers list organic">'
    assert marker in body
    return body.replace(marker, marker + NEW_ITEM, 1)


@pytest.fixture
def client(run_ingest: Callable, config: Config) -> FlaskClient:
    run_ingest()
    return create_app(config).test_client()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("feed", FEEDS)
def test_validators_give_304_with_no_body(client: FlaskClient, feed: str, fmt: str) -> None:
    first = client.get(f"{feed}.{fmt}")
    assert first.status_code == 200
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert first.headers["Cache-Control"] == "public, max-age=1800"  # ingest every 30 min
    # XML feeds also vary on what a browser tab sends: it gets the readable page instead.
    vary = "Accept-Encoding" if fmt == "json" else "Accept-Encoding, Accept, Sec-Fetch-Dest"
    assert first.headers["Vary"] == vary
    for headers in (
        {"If-None-Match": etag},
        {"If-Modified-Since": modified},
        {"If-None-Match": f'"other", {etag}'},
    ):
        again = client.get(f"{feed}.{fmt}", headers=headers)
        assert again.status_code == 304, headers
        assert again.data == b"" and again.headers["ETag"] == etag
    assert client.get(f"{feed}.{fmt}", headers={"If-None-Match": '"stale"'}).status_code == 200
    head = client.head(f"{feed}.{fmt}")
    assert head.status_code == 200 and head.data == b""
    assert head.headers["ETag"] == etag and int(head.headers["Content-Length"]) == len(first.data)


@pytest.mark.parametrize("fmt", FORMATS)
def test_gzip_when_asked(client: FlaskClient, fmt: str) -> None:
    plain = client.get(f"{FEEDS[0]}.{fmt}")
    zipped = client.get(f"{FEEDS[0]}.{fmt}", headers={"Accept-Encoding": "gzip, deflate"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == plain.data
    assert zipped.headers["ETag"] != plain.headers["ETag"]  # a different representation
    revalidated = client.get(
        f"{FEEDS[0]}.{fmt}",
        headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]},
    )
    assert revalidated.status_code == 304


def heard_of_publishes(client: FlaskClient, store: Store) -> None:
    """Wait until the app's workers know of the last publish: at once on SQLite (a marker
    file), within moments on PostgreSQL (NOTIFY reaches a thread of the worker)."""
    if store.shared:
        stamp = client.application.extensions["feedsvc"].cache.stamp
        wait_until(lambda: stamp() == store.publication_version(), seconds=5)


def test_validators_follow_changes_and_only_changes(
    client: FlaskClient, server: PageServer, run_ingest: Callable, store: Store, config: Config
) -> None:
    before = {f"{feed}.{fmt}": client.get(f"{feed}.{fmt}") for feed in FEEDS for fmt in FORMATS}
    server.serve(TOPIC_PATH, page("rand-2015.html") + b"\n<!-- cache-buster -->")
    run_ingest()  # new bytes, same items: nothing changes for readers
    heard_of_publishes(client, store)
    for url, old in before.items():
        now = client.get(url)
        assert (now.headers["ETag"], now.headers["Last-Modified"]) == (
            old.headers["ETag"],
            old.headers["Last-Modified"],
        ), url
    server.serve(TOPIC_PATH, with_new_item(page("rand-2015.html")))
    [report] = run_ingest()
    assert report.new == 1
    heard_of_publishes(client, store)
    changed_at = store.source(
        "security-cooperation", config.topics[0].sources[0].url
    ).last_success_at
    for url, old in before.items():
        now = client.get(url)
        if "/types/report/" in url:  # a new commentary leaves the report feed alone
            assert now.headers["ETag"] == old.headers["ETag"]
            continue
        assert now.headers["ETag"] != old.headers["ETag"], url
        assert parsedate_to_datetime(now.headers["Last-Modified"]) == changed_at
        assert client.get(url, headers={"If-None-Match": old.headers["ETag"]}).status_code == 200


def test_a_cached_request_does_no_rendering_and_no_item_query(
    client: FlaskClient, config: Config, store: Store
) -> None:
    """After a restart the bytes come from the cache kept in the store: no item is read."""
    for fmt in FORMATS:
        client.get(f"{FEEDS[0]}.{fmt}")
    restarted = create_app(config)
    statements: list[str] = []
    restarted.extensions["feedsvc"].store.trace = statements.append  # every web-tier read
    client2 = restarted.test_client()
    for fmt in FORMATS:
        response = client2.get(f"{FEEDS[0]}.{fmt}")
        assert response.status_code == 200
        assert response.data == store.rendered(FeedKey(topic="security-cooperation"), fmt, 50).body
    assert statements and all("FROM rendered" in s for s in statements), statements


def test_rss_ttl_follows_the_ingest_interval(client: FlaskClient) -> None:
    parsed = feedparser.parse(client.get(f"{FEEDS[0]}.rss").data)
    assert parsed.feed.ttl == "30"


def test_json_feed_validates_against_the_1_1_schema(client: FlaskClient) -> None:
    schema = json.loads((FIXTURES / "schemas" / "jsonfeed-1.1.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    for feed in FEEDS:
        document = json.loads(client.get(f"{feed}.json").data)
        errors = [e.message for e in validator.iter_errors(document)]
        assert errors == [], feed
    # The schema is not a rubber stamp: a feed without items or a bad date fails it.
    assert list(
        validator.iter_errors({"version": "https://jsonfeed.org/version/1.1", "title": "x"})
    )
    bad = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "x",
        "items": [{"id": "1", "content_text": "t", "date_published": "Mar 3, 2015"}],
    }
    assert list(validator.iter_errors(bad))


def test_newsletter_fields_in_every_format(client: FlaskClient, tmp_path: Path) -> None:
    """RSS-to-email tools read images from media:*, enclosures or content; dates as RFC 822."""
    rss = client.get(f"{FEEDS[0]}.rss").data
    parsed = feedparser.parse(rss)
    with_image = [e for e in parsed.entries if "media_thumbnail" in e]
    assert with_image
    for entry in with_image:
        url = entry.media_thumbnail[0]["url"]
        assert [link.href for link in entry.links if link.rel == "enclosure"] == [url]
        assert entry.enclosures[0]["type"] == "image/jpeg"
        assert f'src="{url}"' in entry.content[0].value
        assert entry.published.endswith("+0000") and entry.published[:3] in {
            "Mon",
            "Tue",
            "Wed",
            "Thu",
            "Fri",
            "Sat",
            "Sun",
        }
    assert b'<media:text type="plain">Russia&#x27;s President' not in rss
    assert b'<media:text type="plain">Russia\'s President Vladimir Putin' in rss
    json_items = json.loads(client.get(f"{FEEDS[0]}.json").data)["items"]
    assert [i["id"] for i in json_items] == [e.id for e in parsed.entries]
    assert [i.get("image") for i in json_items] == [
        e.media_thumbnail[0]["url"] if "media_thumbnail" in e else None for e in parsed.entries
    ]
