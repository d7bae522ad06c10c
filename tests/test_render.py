"""Renderers are pure: the same document gives the same bytes, every field lands where readers look."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import feedparser
import pytest

from feedsvc.formats import FORMATS
from feedsvc.model import StoredItem
from feedsvc.render import RENDERERS, FeedDoc

WHEN = datetime(2024, 3, 5, 8, 30, tzinfo=UTC)
ITEM = StoredItem(
    guid="https://example.org/briefs/arctic",
    link="https://example.org/briefs/arctic",
    title="Arctic <Cooperation> & more",
    summary_html="A <em>short</em> look.",
    summary_text="A short look.",
    type_slug="policy-brief",
    type_label="Policy Brief",
    image_url="https://cdn.example.org/img/arctic.png",
    image_caption="Ice floes, photo by Max Muster",
    image_credit="Max Muster",
    author="Jane Roe",
    published=WHEN,
    updated=datetime(2024, 3, 6, tzinfo=UTC),
    first_seen=WHEN,
    order_key="x",
    topics=("arctic",),
)


def doc(entries: tuple[StoredItem, ...] = (ITEM,)) -> FeedDoc:
    return FeedDoc(
        id="http://feeds.test/topics/arctic",
        title="Arctic",
        description="Everything on the Arctic.",
        home_url="https://example.org/news/",
        urls={fmt: f"http://feeds.test/topics/arctic/feed.{fmt}" for fmt in FORMATS},
        updated=WHEN,
        ttl_minutes=60,
        author="feedsvc",
        types_url="http://feeds.test/types/",
        topics_url="http://feeds.test/topics/",
        entries=entries,
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_same_document_same_bytes(fmt: str) -> None:
    assert RENDERERS[fmt](doc()) == RENDERERS[fmt](doc())


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_xml_entries_carry_every_field(fmt: str) -> None:
    parsed = feedparser.parse(RENDERERS[fmt](doc()))
    assert not parsed.bozo
    [entry] = parsed.entries
    assert entry.title == "Arctic <Cooperation> & more"
    assert entry.author == "Jane Roe"
    assert entry.media_content[0]["url"] == ITEM.image_url
    assert entry.media_content[0]["type"] == "image/png"
    assert entry.media_credit[0]["content"] == "Max Muster"
    assert {t.term for t in entry.tags} >= {"arctic"}
    assert "<figcaption>Ice floes, photo by Max Muster</figcaption>" in entry.content[0].value
    assert parsed.feed.updated_parsed[:5] == (2024, 3, 5, 8, 30)
    links = {(link.rel, link.href) for link in parsed.feed.links}
    assert ("self", f"http://feeds.test/topics/arctic/feed.{fmt}") in links


def test_atom_entry_has_a_single_alternate_link() -> None:
    """feedgen drops rel on Atom entry links (#135), so an enclosure link would pose as alternate."""
    [entry] = feedparser.parse(RENDERERS["atom"](doc())).entries
    assert [link.href for link in entry.links] == [ITEM.link]


def test_empty_feed_is_valid() -> None:
    for fmt in ("rss", "atom"):
        parsed = feedparser.parse(RENDERERS[fmt](doc(())))
        assert not parsed.bozo and parsed.entries == []
    assert json.loads(RENDERERS["json"](doc(())))["items"] == []


def test_json_item() -> None:
    [item] = json.loads(RENDERERS["json"](doc()))["items"]
    assert item["authors"] == [{"name": "Jane Roe"}]
    assert item["date_published"] == "2024-03-05T08:30:00+00:00"
    assert item["date_modified"] == "2024-03-06T00:00:00+00:00"
    assert item["tags"] == ["Policy Brief", "arctic"]
