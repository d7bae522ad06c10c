"""Hostile pages give clean, valid feeds: one fixture per kind of trouble, one test for all.

Each tests/fixtures/hostile/NAME.html is served as it is, with the Content-Type its
NAME.expected.json names; the expectation lists the items that must come out
(`{base}` is the fixture server), the items skipped, and strings no feed may hold.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import feedparser
import pytest
from conftest import FIXTURES, TOPIC_PATH, PageServer, write_config

from feedsvc.config import load
from feedsvc.fetch.client import make_fetcher
from feedsvc.jobs.cycle import run_cycle, targets
from feedsvc.keys import FeedKey
from feedsvc.store import Store
from feedsvc.web import create_app

HOSTILE = FIXTURES / "hostile"
CASES = sorted(path.stem for path in HOSTILE.glob("*.html"))
TOPIC = FeedKey(topic="security-cooperation")
NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
NEVER = ["<script", "javascript:"]


@pytest.mark.parametrize("name", CASES)
def test_a_hostile_page_gives_clean_valid_feeds(
    name: str, tmp_path: Path, server: PageServer
) -> None:
    expect = json.loads((HOSTILE / f"{name}.expected.json").read_text(encoding="utf-8"))
    body = (HOSTILE / f"{name}.html").read_bytes()
    server.serve(TOPIC_PATH, body, headers={"Content-Type": expect["content_type"]})
    config = load(write_config(tmp_path, server.url(TOPIC_PATH)))
    store = Store(config.service.database)
    store.create_schema()
    fetcher = make_fetcher(config)
    [report] = run_cycle(store, fetcher, config, targets(config))
    fetcher.close()

    assert report.ok, report.error
    assert report.skipped == expect.get("skipped", 0)
    wanted = {item["link"].format(base=server.base): item for item in expect["items"]}
    stored = {item.link: item for item in store.entries(TOPIC, 500)}
    assert {link: item.title for link, item in stored.items()} == {
        link: item["title"] for link, item in wanted.items()
    }
    for link, want in wanted.items():
        if "summary" in want:
            assert stored[link].summary_text == want["summary"]
        if "image_url" in want:
            assert stored[link].image_url == want["image_url"]
    by_title = {item.title: item for item in stored.values()}
    for title in expect.get("undated", []):
        assert by_title[title].published == by_title[title].first_seen, title
    for title, published in expect.get("published", {}).items():
        assert by_title[title].published.isoformat() == published
    for field, bound in expect.get("max_lengths", {}).items():
        assert max(len(getattr(item, field) or "") for item in stored.values()) <= bound, field
    for item in stored.values():
        assert not re.search(r"\son\w+\s*=", item.summary_html), item.summary_html
        for url in re.findall(r'(?:href|src)="([^"]*)"', item.summary_html):
            assert url.startswith(("http://", "https://", "mailto:")), url
    for present in expect.get("present", []):
        assert any(present.format(base=server.base) in i.summary_html for i in stored.values())

    client = create_app(config).test_client()
    for key in [TOPIC, *(FeedKey(TOPIC.topic, slug) for slug in store.type_labels())]:
        entries = [item.guid for item in store.entries(key, 50)]
        for fmt in ("rss", "atom", "json"):
            response = client.get(f"/{key.path}/feed.{fmt}")
            assert response.status_code == 200
            text = response.data.decode("utf-8")  # strict: the bytes are UTF-8
            assert not NOT_XML_CHAR.search(text), (fmt, NOT_XML_CHAR.search(text))
            if fmt == "json":
                assert [i["id"] for i in json.loads(text)["items"]] == entries
            else:
                parsed = feedparser.parse(response.data)
                assert not parsed.bozo, (fmt, parsed.get("bozo_exception"))
                assert [entry.id for entry in parsed.entries] == entries
            readable = html.unescape(html.unescape(text)).lower()  # markup escaped once or twice
            for needle in NEVER + expect.get("absent", []):
                assert needle.lower() not in readable, (key, fmt, needle)
    store.close()
