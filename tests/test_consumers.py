"""The consumer matrix: real readers and RSS-to-email tools read every feed and show each item alike.

rss2email (plain text and HTML mail, digest on and off, through a sendmail stand-in),
newsboat (`-x reload`, then its SQLite cache), sfeed (`sfeed`, `sfeed_opml_import`) and
feedparser read the topic feed, a type feed, a topic-and-type feed, the weekly digest
and a topic with bylines, in RSS and Atom (JSON Feed is read by its schema's fields).
For every entry: title, summary text, link, the same instant, the image, the author;
then a second ingest of the same items must make no new mail and no new unread item.
"""

from __future__ import annotations

import calendar
import email
import email.policy
import html
import json
import os
import re
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

import feedparser
import pytest
import requests
from consumers import (
    FEEDS,
    SERVICE_TITLE,
    XML_FORMATS,
    Expected,
    Site,
    build_site,
    markdown_text,
    newsboat_items,
    plain,
    sfeed_rows,
    skip_reason,
)
from lxml import etree

MATRIX = [(name, fmt) for name in FEEDS for fmt in XML_FORMATS]
FEED_TITLES = {
    "topic": "Security Cooperation",
    "type": "Report",
    "topic-type": "Security Cooperation: Commentary",
    "digest": "Security Cooperation: weekly digest",
    "bylines": "Arctic",
}
SENDMAIL = """#!/bin/sh
# sendmail stand-in for rss2email: each message into its own file, named after the recipient.
for recipient; do :; done
exec cat > "{folder}/$(date +%s%N)-$$-$recipient.eml"
"""
R2E_VARIANTS = {  # name -> (html-mail, digest)
    "plain": (False, False),
    "html": (True, False),
    "plain-digest": (False, True),
    "html-digest": (True, True),
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield from build_site(tmp_path_factory.mktemp("site"), port)


def instant(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def html_text(fragment: str) -> str:
    """The text of an HTML fragment, white space collapsed."""
    return plain(etree.HTML(f"<div>{fragment}</div>").xpath("string()"))


# -- feedparser (rss2email's parser, and many Python tools') ------------------------------------


@pytest.mark.parametrize(("name", "fmt"), MATRIX)
def test_feedparser_sees_the_summary_not_the_caption(site: Site, name: str, fmt: str) -> None:
    parsed = feedparser.parse(requests.get(site.url(name, fmt), timeout=10).content)
    assert not parsed.bozo, parsed.bozo_exception
    assert parsed.feed.author == (SERVICE_TITLE if name == "type" else expected_author(name))
    expected = site.expected(name)
    assert [entry.id for entry in parsed.entries] == [e.guid for e in expected]
    for entry, want in zip(parsed.entries, expected, strict=True):
        assert entry.title == want.title
        assert entry.link == want.link
        assert instant(datetime_seconds(entry.published_parsed)) == want.published
        assert entry.author == want.author
        assert entry.summary_detail.type == "text/html"  # a caption would be text/plain
        assert html_text(entry.summary_detail.value) == plain(want.summary)
        assert [(e.href, e.type, e.get("length")) for e in entry.get("enclosures", [])] == (
            [(want.image_url, want.image_type, str(want.image_length))] if want.image_url else []
        )
        assert tuple(tag.get("label") or tag.term for tag in entry.tags) == want.labels


def expected_author(name: str) -> str:
    """The channel's author: the topic's configured one (the RAND topic), else the service."""
    return SERVICE_TITLE if name in ("type", "bylines") else "RAND Security Cooperation desk"


def datetime_seconds(parsed: tuple) -> float:
    """feedparser's UTC struct_time as seconds since the epoch."""
    return calendar.timegm(parsed)


@pytest.mark.parametrize("name", FEEDS)
def test_json_feed_items(site: Site, name: str) -> None:
    feed = requests.get(site.url(name, "json"), timeout=10).json()
    expected = site.expected(name)
    assert [item["id"] for item in feed["items"]] == [e.guid for e in expected]
    for item, want in zip(feed["items"], expected, strict=True):
        assert (item["title"], item["url"]) == (want.title, want.link)
        assert datetime.fromisoformat(item["date_published"]) == want.published
        assert item["authors"] == [{"name": want.author}]
        assert item.get("image") == want.image_url
        if want.image_url:
            assert item["attachments"] == [
                {
                    "url": want.image_url,
                    "mime_type": want.image_type,
                    "size_in_bytes": want.image_length,
                }
            ]
        for summary in want.texts:
            assert plain(summary) in html_text(item["content_html"])


# -- rss2email ----------------------------------------------------------------------------------


@dataclass
class Mailbox:
    """What one rss2email set-up mailed: after the first run, and after a second ingest."""

    first: dict[str, list[EmailMessage]]  # recipient (feed name and format) -> messages
    second: list[Path]


def r2e_config(site: Site, folder: Path, html_mail: bool, digest: bool) -> Path:
    """An rss2email config with every feed of the matrix, mailed through the stand-in."""
    sendmail = folder / "sendmail"
    (folder / "mail").mkdir()
    sendmail.write_text(SENDMAIL.format(folder=folder / "mail"))
    sendmail.chmod(0o755)
    lines = [
        "[DEFAULT]",
        "from = feeds@example.org",
        "email-protocol = sendmail",
        f"sendmail = {sendmail}",
        "date-header = True",
        "date-header-order = published, updated",
        "body-width = 100000",  # no wrapping: a summary stays on one line
        f"html-mail = {html_mail}",
        f"digest = {digest}",
    ]
    for name, fmt in MATRIX:
        lines += [
            f"[feed.{name}-{fmt}]",
            f"url = {site.url(name, fmt)}",
            f"to = {name}-{fmt}@x.test",
        ]
    path = folder / "rss2email.cfg"
    path.write_text("\n".join(lines) + "\n")
    return path


def r2e_runs(site: Site, root: Path) -> dict[str, Mailbox]:
    """Every rss2email variant: a first run, a second ingest, a second run (in parallel)."""
    configs = {}
    for variant, (html_mail, digest) in R2E_VARIANTS.items():
        folder = root / variant
        folder.mkdir()
        configs[variant] = (folder, r2e_config(site, folder, html_mail, digest))

    def run_all() -> None:
        running = [
            subprocess.Popen(
                ["r2e", "-c", str(cfg), "-d", str(folder / "data.json"), "run"],
                env={**os.environ, "HOME": str(folder)},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for folder, cfg in configs.values()
        ]
        for process in running:
            _, stderr = process.communicate(timeout=120)
            assert process.returncode == 0, stderr.decode()

    run_all()
    first = {
        variant: sorted((folder / "mail").iterdir()) for variant, (folder, _) in configs.items()
    }
    assert all(report.new == 0 and report.updated == 0 for report in site.reingest())
    for folder, _ in configs.values():
        forget_validators(folder / "data.json")
    run_all()
    boxes = {}
    for variant, (folder, _) in configs.items():
        by_recipient: dict[str, list[EmailMessage]] = {}
        for path in first[variant]:
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            by_recipient.setdefault(str(message["To"]).split("@")[0], []).append(message)
        second = sorted(set((folder / "mail").iterdir()) - set(first[variant]))
        boxes[variant] = Mailbox(by_recipient, second)
    return boxes


def forget_validators(data: Path) -> None:
    """Make rss2email's next run fetch every feed in full (no 304) and judge each entry again."""
    state = json.loads(data.read_text())
    for feed in state["feeds"]:
        feed["etag"] = feed["modified"] = None
    data.write_text(json.dumps(state))


@pytest.fixture(scope="module")
def mailboxes(site: Site, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Mailbox]:
    if reason := skip_reason("r2e"):
        pytest.skip(reason)
    return r2e_runs(site, tmp_path_factory.mktemp("rss2email"))


def entry_messages(box: Mailbox, name: str, fmt: str, digest: bool) -> list[EmailMessage]:
    """The messages of one feed's entries; a digest mail's parts are one message each."""
    messages = box.first[f"{name}-{fmt}"]
    if not digest:
        return messages
    [mail] = messages
    assert mail.get_content_type() == "multipart/digest"
    return [part.get_content() for part in mail.iter_parts()]


def check_mail(message: EmailMessage, want: Expected, feed_title: str, html_mail: bool) -> None:
    """One entry's mail shows the title, author, instant, summary, link and image."""
    assert str(message["Subject"]) == want.title
    assert message["From"].addresses[0].display_name == f"{feed_title}: {want.author}"
    sent = parsedate_to_datetime(str(message["Date"]))  # "-0000": UTC, read as naive
    assert sent.replace(tzinfo=sent.tzinfo or UTC) == want.published
    assert str(message["X-RSS-URL"]) == want.link
    body = message.get_body(("html",) if html_mail else ("plain",)).get_content()
    text = html_text(body) if html_mail else markdown_text(body)
    for summary in want.texts:
        assert plain(summary) in text, f"{want.title}: summary missing from\n{body}"
    if html_mail:
        assert f'href="{html.escape(want.link)}"' in body
        if want.image_url:
            assert re.search(f'<img [^>]*src="{re.escape(html.escape(want.image_url))}"', body)
    else:
        assert f"URL: {want.link}" in body
        if want.image_url:
            assert f"Enclosure: {want.image_url}" in body


@pytest.mark.parametrize("variant", R2E_VARIANTS)
@pytest.mark.parametrize(("name", "fmt"), MATRIX)
def test_rss2email_mails_every_entry_alike(
    mailboxes: dict[str, Mailbox], site: Site, variant: str, name: str, fmt: str
) -> None:
    html_mail, digest = R2E_VARIANTS[variant]
    messages = entry_messages(mailboxes[variant], name, fmt, digest)
    by_guid = {str(m["X-RSS-ID"]): m for m in messages}
    expected = site.expected(name)
    assert len(messages) == len(by_guid) == len(expected)
    for want in expected:
        check_mail(by_guid[want.guid], want, FEED_TITLES[name], html_mail)


@pytest.mark.parametrize("variant", R2E_VARIANTS)
def test_rss2email_mails_nothing_after_a_second_ingest(
    mailboxes: dict[str, Mailbox], variant: str
) -> None:
    assert mailboxes[variant].second == []


# -- newsboat -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def newsboat(site: Site, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple, tuple]:
    """Each feed's cache rows after a first reload, and after a second ingest and reload."""
    if reason := skip_reason("newsboat"):
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("newsboat")
    first = {key: newsboat_items(root / "-".join(key), site.url(*key)) for key in MATRIX}
    assert all(report.new == 0 for report in site.reingest())
    return {
        key: (rows, newsboat_items(root / "-".join(key), site.url(*key)))
        for key, rows in first.items()
    }


@pytest.mark.parametrize(("name", "fmt"), MATRIX)
def test_newsboat_caches_every_entry_alike(newsboat: dict, site: Site, name: str, fmt: str) -> None:
    first, again = newsboat[(name, fmt)]
    by_guid = {row["guid"]: row for row in first}
    expected = site.expected(name)
    assert len(first) == len(by_guid) == len(expected)
    for want in expected:
        row = by_guid[want.guid]
        assert (row["title"], row["url"], row["author"]) == (want.title, want.link, want.author)
        assert instant(row["pubDate"]) == want.published
        text = html_text(row["content"])
        for summary in want.texts:
            assert plain(summary) in text
        if want.image_url:  # newsboat keeps only podcast enclosures: the image is inline
            assert f'<img src="{html.escape(want.image_url)}"' in row["content"]
    assert [(r["guid"], r["unread"]) for r in again] == [(r["guid"], r["unread"]) for r in first]


# -- sfeed --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "fmt"), MATRIX)
def test_sfeed_reads_every_entry_alike(site: Site, name: str, fmt: str) -> None:
    if reason := skip_reason("sfeed"):
        pytest.skip(reason)
    rows = sfeed_rows(requests.get(site.url(name, fmt), timeout=10).content)
    expected = site.expected(name)
    assert [row["id"] for row in rows] == [e.guid for e in expected]
    for row, want in zip(rows, expected, strict=True):
        assert (row["title"], row["link"], row["author"]) == (want.title, want.link, want.author)
        assert instant(int(row["timestamp"])) == want.published
        assert row["content_type"] == "html"
        text = html_text(row["content"].replace("\\n", "\n").replace("\\t", "\t"))
        for summary in want.texts:
            assert plain(summary) in text
        assert row["enclosure"] == (want.image_url or "")
        # sfeed shows RSS category text (the label) and Atom's term (the slug)
        assert row["category"] == "|".join(want.labels if fmt == "rss" else want.terms)
    site.reingest()
    again = sfeed_rows(requests.get(site.url(name, fmt), timeout=10).content)
    assert [row["id"] for row in again] == [row["id"] for row in rows]


@pytest.mark.parametrize("chosen", ["topics", "types", "all"])
def test_sfeed_opml_import_takes_every_listed_feed(site: Site, chosen: str) -> None:
    if reason := skip_reason("sfeed_opml_import"):
        pytest.skip(reason)
    opml = requests.get(f"{site.base}/feeds.opml?set={chosen}", timeout=10).content
    listed = etree.fromstring(opml).xpath("//outline[@xmlUrl]/@xmlUrl")
    out = subprocess.run(["sfeed_opml_import"], input=opml, capture_output=True, check=True)
    imported = [
        line.split("'")[3]
        for line in out.stdout.decode().splitlines()
        if line.strip().startswith("feed '")
    ]
    assert imported == listed and imported
    if chosen == "topics":
        assert f"{site.base}/{FEEDS['digest']}.atom" in imported
        assert not any("/types/" in url for url in imported)
    for url in imported:
        assert sfeed_rows(requests.get(url, timeout=10).content) is not None
