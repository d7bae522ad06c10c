"""`content = "full"`: each item's main text from its own page, once, in every format.

Item pages in the shapes real sites use (an institute's article with navigation, share bar,
comments, a related rail and a cookie banner; a WordPress post; a paywall stub; a PDF) are
served on 127.0.0.1 and the feeds are read back by feedparser, rss2email and newsboat.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import subprocess
import sys
from pathlib import Path

import feedparser
import pytest
from conftest import FIXTURES, PageServer, write_config
from consumers import newsboat_items, serving_app, skip_reason

from feedsvc.cli.main import main
from feedsvc.config import Config, load
from feedsvc.extract.fulltext import MAX_FULL_TEXT_CHARS, NoFullText, full_text_html
from feedsvc.fetch.client import make_fetcher
from feedsvc.ingest.backfill import backfill
from feedsvc.jobs.cycle import prepare, run_cycle, targets
from feedsvc.keys import FeedKey
from feedsvc.model import StoredItem
from feedsvc.store import Store
from feedsvc.web import create_app
from tests.support.net import free_port

PAGES = FIXTURES / "fulltext"
ITEMS = {
    "/research/2024/ports.html": ("article.html", "text/html; charset=utf-8"),
    "/blog/2024/03/winter-grid/": ("blog.html", "text/html; charset=UTF-8"),
    "/premium/2024/sanctions-outlook.html": ("paywall.html", "text/html; charset=utf-8"),
}
PDF_PATH = "/content/dam/pubs/rr-2024-7.pdf"
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
SOURCE = """content = "full"
  enrich_per_run = 3
  [topics.sources.selectors]
  item = "li.result"
  title = "h3"
  link = "h3 a"
  date = ".date"
  summary = ".summary"
  next = "a.older\""""
TOPIC = FeedKey(topic="security-cooperation")
# Words of the page around the article that must never reach a feed.
CHROME = (
    "Accept All Cookies",
    "use cookies",
    "Share on",
    "Share this",
    "Related Research",
    "Demand Response Arrives",
    "harbourwatcher",
    "gridnerd",
    "Leave a Reply",
    "Get our weekly newsletter",
    "Donate",
    "Proudly powered",
    "Recent Posts",
)


def serve_site(server: PageServer) -> None:
    server.serve("/listing.html", (PAGES / "listing.html").read_bytes())
    for path, (name, media_type) in ITEMS.items():
        server.serve(path, (PAGES / name).read_bytes(), headers={"Content-Type": media_type})
    server.serve(PDF_PATH, PDF, headers={"Content-Type": "application/pdf"})


def full_config(tmp_path: Path, server: PageServer, per_run: int = 3) -> Config:
    path = write_config(tmp_path, server.url("/listing.html"), "min_items_ratio = 0\n")
    source = SOURCE.replace("enrich_per_run = 3", f"enrich_per_run = {per_run}")
    path.write_text(path.read_text().replace('preset = "rand-topic"', source))
    config = load(path)
    prepare(config)
    return config


def cycle(store: Store, config: Config, server: PageServer) -> list[str]:
    """One run of the write path; the item pages it fetched."""
    fetcher = make_fetcher(config)
    before = len(server.requests)
    try:
        for report in run_cycle(store, fetcher, config, targets(config)):
            assert report.ok, report.error
    finally:
        fetcher.close()
    return sorted(p for p, _ in server.requests[before:] if p != "/listing.html")


def by_title(store: Store) -> dict[str, StoredItem]:
    return {item.title: item for item in store.entries(TOPIC, 50)}


def test_each_page_is_read_once_and_its_main_text_fills_every_format(
    tmp_path: Path, server: PageServer, capsys: pytest.CaptureFixture[str]
) -> None:
    serve_site(server)
    config = full_config(tmp_path, server)
    store = Store(config.service.database)

    assert cycle(store, config, server) == sorted([*list(ITEMS)])  # three per run
    assert cycle(store, config, server) == [PDF_PATH]
    assert cycle(store, config, server) == []  # once in an item's life, failures included

    items = by_title(store)
    ports = items["Ports Under Pressure"].full_html or ""
    assert "Our survey of forty-one ports" in ports
    assert "<strong>nineteen days</strong>" in ports
    assert 'href="' + server.url("/pubs/2024/rr-9.html") + '"' in ports  # made absolute
    assert 'src="' + server.url("/research/images/queue-chart.png") + '"' in ports
    winter = items["Keeping the Lights On in a Hard Winter"].full_html or ""
    assert "<li>Pay for reserve capacity" in winter
    for text in (ports, winter):
        assert not [word for word in CHROME if word in text]
        assert "<script" not in text and "onclick" not in text
    # The paywall stub and the PDF keep their summaries; the source says why.
    assert items["Sanctions Outlook 2024"].full_html is None
    assert items["Annual Report (PDF)"].full_html is None
    [status] = store.sources()
    assert status.full_text_failures == 2
    assert "application/pdf" in (status.last_full_text_error or "")
    assert main(["--config", str(tmp_path / "config.toml"), "status"]) == 0
    assert "full_text_failures=2" in capsys.readouterr().out

    app = create_app(config).test_client()
    rss = feedparser.parse(app.get("/topics/security-cooperation/feed.rss").data)
    atom = feedparser.parse(app.get("/topics/security-cooperation/feed.atom").data)
    for parsed in (rss, atom):
        assert not parsed.bozo, parsed.bozo_exception
        entries = {entry.title: entry for entry in parsed.entries}
        entry = entries["Ports Under Pressure"]
        assert (
            entry.summary_detail.value == "Slack, not size, decides how fast a port clears a surge."
        )
        assert entry.content[0].type == "text/html"
        assert "Our survey of forty-one ports" in entry.content[0].value
        assert not [word for word in CHROME if word in entry.content[0].value]
        stub = entries["Sanctions Outlook 2024"]
        assert "Subscribers' briefing on the year ahead." in stub.content[0].value
        assert "Subscribe now" not in stub.content[0].value
    feed = json.loads(app.get("/topics/security-cooperation/feed.json").data)
    entries = {entry["title"]: entry for entry in feed["items"]}
    assert (
        "households cut their use"
        in entries["Keeping the Lights On in a Hard Winter"]["content_html"]
    )
    assert entries["Keeping the Lights On in a Hard Winter"]["summary"] == (
        "What grid operators learned from the cold snap."
    )
    assert "The institute's year in numbers." in entries["Annual Report (PDF)"]["content_html"]


def test_an_edited_item_gets_its_text_again(tmp_path: Path, server: PageServer) -> None:
    serve_site(server)
    config = full_config(tmp_path, server, per_run=4)
    store = Store(config.service.database)
    cycle(store, config, server)
    first = by_title(store)["Ports Under Pressure"]

    listing = (PAGES / "listing.html").read_bytes()
    server.serve("/listing.html", listing.replace(b"Slack, not size,", b"Slack, not sheer size,"))
    article = (PAGES / "article.html").read_bytes()
    server.serve(
        "/research/2024/ports.html",
        article.replace(b"Neither needs new concrete.", b"Neither needs new concrete or steel."),
    )
    assert cycle(store, config, server) == []  # the edit is seen: its text is now due
    assert cycle(store, config, server) == ["/research/2024/ports.html"]
    again = by_title(store)["Ports Under Pressure"]
    assert "new concrete or steel." in (again.full_html or "")
    assert (again.guid, again.published) == (first.guid, first.published)
    assert again.updated >= first.updated
    assert cycle(store, config, server) == []


def test_backfilled_items_get_their_text_within_the_per_run_limit(
    tmp_path: Path, server: PageServer
) -> None:
    serve_site(server)
    older = (PAGES / "listing.html").read_text()
    first, _, rest = older.partition('<li class="result">\n    <h3><a href="/blog')
    server.serve(
        "/listing.html", (first + "</ul><a class='older' href='/older.html'>Older</a>").encode()
    )
    server.serve(
        "/older.html",
        (first.split("<ul")[0] + '<ul><li class="result">\n    <h3><a href="/blog' + rest).encode(),
    )
    config = full_config(tmp_path, server, per_run=2)
    store = Store(config.service.database)
    assert cycle(store, config, server) == ["/research/2024/ports.html"]

    fetcher = make_fetcher(config)
    summary = backfill(store, fetcher, config, TOPIC.topic or "", config.topics[0].sources[0])
    fetcher.close()
    assert summary.items_new == 3
    # Backfilled items wait in the backlog: the newest two per run, failures not retried.
    assert cycle(store, config, server) == sorted(
        ["/blog/2024/03/winter-grid/", "/premium/2024/sanctions-outlook.html"]
    )
    assert cycle(store, config, server) == [PDF_PATH]
    assert cycle(store, config, server) == []
    history = {item.title: item for item in store.archive_entries(TOPIC, 1, 50)}
    assert "households cut their use" in (
        history["Keeping the Lights On in a Hard Winter"].full_html or ""
    )
    assert history["Sanctions Outlook 2024"].full_html is None


def test_a_long_text_is_cut_between_blocks_with_a_link_to_the_rest() -> None:
    paragraphs = "".join(
        "<p>" + f"Sentence {n} of the long report, one of many. " * 40 + "</p>\n"
        for n in range(200)
    )
    body = f"<html><body><article><h1>Long</h1>{paragraphs}</article></body></html>"
    text = full_text_html(body.encode(), "utf-8", "https://example.org/long.html")
    assert len(text) <= MAX_FULL_TEXT_CHARS
    assert text.endswith(
        '<p><a href="https://example.org/long.html">Continue reading on the site</a></p>'
    )
    assert text.count("<p>") == text.count("</p>")  # whole paragraphs only


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html><body><nav><a href='/'>Home</a></nav></body></html>",
        b"\x00\x01\xff\xfe<html>",
        (PAGES / "paywall.html").read_bytes(),
    ],
)
def test_a_page_without_an_article_gives_no_text_and_a_reason(body: bytes) -> None:
    with pytest.raises(NoFullText, match="main text"):
        full_text_html(body, "utf-8", "https://example.org/x.html")


def test_extraction_makes_no_connection(tmp_path: Path) -> None:
    """trafilatura and its helpers extract offline: any connection attempt would fail here."""
    script = (
        "import socket\n"
        "def refuse(*args, **kwargs):\n"
        "    raise SystemExit('a connection was attempted')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "socket.getaddrinfo = refuse\n"
        "from feedsvc.extract.fulltext import full_text_html\n"
        f"body = open({str(PAGES / 'article.html')!r}, 'rb').read()\n"
        "print(len(full_text_html(body, 'utf-8', 'https://www.northernpolicy.example/a.html')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 1000


SENDMAIL = """#!/bin/sh
cat > "{folder}/$(date +%s%N).eml"
"""


def test_rss2email_and_newsboat_read_the_text(tmp_path: Path, server: PageServer) -> None:
    if reason := skip_reason("r2e", "newsboat"):
        pytest.skip(reason)
    serve_site(server)
    config = full_config(tmp_path, server, per_run=4)
    store = Store(config.service.database)
    cycle(store, config, server)
    port = free_port()
    with serving_app(config, port):
        url = f"http://127.0.0.1:{port}/topics/security-cooperation/feed.rss"
        mail = tmp_path / "mail"
        mail.mkdir()
        sendmail = tmp_path / "sendmail"
        sendmail.write_text(SENDMAIL.format(folder=mail))
        sendmail.chmod(0o755)
        cfg = tmp_path / "r2e.cfg"
        cfg.write_text(
            "[DEFAULT]\nfrom = feeds@example.org\nemail-protocol = sendmail\n"
            f"sendmail = {sendmail}\nhtml-mail = True\nbody-width = 100000\n"
            f"[feed.topic]\nurl = {url}\nto = reader@x.test\n"
        )
        done = subprocess.run(
            ["r2e", "-c", str(cfg), "-d", str(tmp_path / "r2e.json"), "run"],
            env={**os.environ, "HOME": str(tmp_path)},
            capture_output=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        rows = newsboat_items(tmp_path / "newsboat", url)
    messages = [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in mail.iterdir()
    ]
    bodies = {str(m["Subject"]): m.get_body(("html",)).get_content() for m in messages}
    assert "Our survey of forty-one ports" in bodies["Ports Under Pressure"]
    assert "Subscribers' briefing on the year ahead." in bodies["Sanctions Outlook 2024"]
    newsboat = {row["title"]: row["content"] for row in rows}
    assert "households cut their use" in newsboat["Keeping the Lights On in a Hard Winter"]
    assert not [word for word in CHROME if word in newsboat["Ports Under Pressure"]]
