"""The browser view for real: headless Chromium opens pages and feeds from a live server.

`make test` installs Debian's chromium when it is missing and it runs as root; anywhere
else these tests skip and say why.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import TOPIC_PATH, PageServer, page
from lxml import html
from werkzeug.serving import make_server

from feedsvc.config import Config
from feedsvc.keys import FeedKey
from feedsvc.store import Store
from feedsvc.web import create_app

CHROMIUM = Path("/usr/bin/chromium")
TOPIC = "security-cooperation"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (make test installs it when run as root)",
)


def dump_dom(url: str, profile: Path) -> str:
    """Open one URL in headless Chromium and return the DOM it rendered."""
    result = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",  # without these, connections are refused here
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.fixture
def live(server: PageServer, run_ingest, config: Config) -> Iterator[str]:
    """The app after both captures were ingested, served over HTTP on 127.0.0.1."""
    run_ingest()
    server.serve(TOPIC_PATH, page("rand-2024.html"))
    run_ingest()
    httpd = make_server("127.0.0.1", 0, create_app(config), threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(10)


def rendered(dom: str) -> html.HtmlElement:
    document = html.fromstring(dom)
    assert document.xpath("//main"), dom[:2000]  # the page, not a raw XML or text view
    return document


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_chromium_shows_a_feed_as_a_readable_page(
    live: str, store: Store, tmp_path: Path, fmt: str
) -> None:
    document = rendered(dump_dom(f"{live}/topics/{TOPIC}/feed.{fmt}", tmp_path / "profile"))
    stored = store.entries(FeedKey(topic=TOPIC), 50)
    titles = [" ".join(a.text_content().split()) for a in document.xpath("//ol/li/h2/a")]
    assert titles == [" ".join(item.title.split()) for item in stored]
    text = " ".join(document.text_content().split())
    assert "This is a web feed: copy this URL into your feed reader to follow it." in text
    assert f"http://feeds.test/topics/{TOPIC}/feed.{fmt}" in text
    assert document.xpath("//link[@rel='stylesheet']/@href") == ["/static/style.css"]
    images = document.xpath("//figure/img/@src")
    assert images == [item.image_url for item in stored if item.image_url] and images
    assert "Security Cooperation" in document.xpath("string(//h1)")


def test_chromium_shows_the_index_and_a_topic_page(live: str, store: Store, tmp_path: Path) -> None:
    index = rendered(dump_dom(f"{live}/", tmp_path / "profile"))
    text = " ".join(index.text_content().split())
    labels = store.type_labels()
    assert "Security Cooperation" in text and "Every topic, by type" in text
    for label in labels.values():
        assert f"Security Cooperation: {label} RSS Atom JSON Feed" in text
    assert "http://feeds.test/topics/security-cooperation/" in index.xpath("//h2/a/@href")
    topic = rendered(dump_dom(f"{live}/topics/{TOPIC}/", tmp_path / "profile"))
    assert len(topic.xpath("//head/link[@rel='alternate']")) == 3 * (1 + len(labels))
