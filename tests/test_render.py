"""Renderers are pure: the same document gives the same bytes, every field lands where readers look."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import feedparser
import pytest

from feedsvc.formats import FORMATS
from feedsvc.model import FeedDoc, StoredItem
from feedsvc.publish.render import RENDERERS

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
        topic_titles={"arctic": "The Arctic"},
        topic_authors={"arctic": "Arctic Desk"},
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
    assert [(e.href, e.type) for e in entry.enclosures] == [(ITEM.image_url, "image/png")]
    assert entry.media_thumbnail[0]["url"] == ITEM.image_url
    assert entry.media_credit[0]["content"] == "Max Muster"
    # the caption must not become the summary (feedparser #53: rss2email mailed captions)
    assert entry.summary_detail.value == "A <em>short</em> look."
    assert entry.summary_detail.type == "text/html"
    assert "<figcaption>Ice floes, photo by Max Muster</figcaption>" in entry.content[0].value
    assert parsed.feed.updated_parsed[:5] == (2024, 3, 5, 8, 30)
    links = {(link.rel, link.href) for link in parsed.feed.links}
    assert ("self", f"http://feeds.test/topics/arctic/feed.{fmt}") in links


def test_atom_entry_has_one_alternate_and_one_enclosure_link() -> None:
    """feedgen drops rel on Atom entry links (#135): the enclosure link is written by hand."""
    [entry] = feedparser.parse(RENDERERS["atom"](doc())).entries
    assert [(link.rel, link.href) for link in entry.links] == [
        ("alternate", ITEM.link),
        ("enclosure", ITEM.image_url),
    ]


def test_probed_size_and_type_reach_every_format() -> None:
    probed = doc((replace(ITEM, image_length=48_213, image_type="image/webp"),))
    for fmt in ("rss", "atom"):
        [entry] = feedparser.parse(RENDERERS[fmt](probed)).entries
        [enclosure] = entry.enclosures
        assert (enclosure.length, enclosure.type) == ("48213", "image/webp")
    [item] = json.loads(RENDERERS["json"](probed))["items"]
    assert item["attachments"] == [
        {"url": ITEM.image_url, "mime_type": "image/webp", "size_in_bytes": 48_213}
    ]


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_categories_show_labels_with_slugs_as_term_or_domain(fmt: str) -> None:
    [entry] = feedparser.parse(RENDERERS[fmt](doc())).entries
    shown = [tag.get("label") or tag.term for tag in entry.tags]
    assert shown == ["Policy Brief", "The Arctic"]
    if fmt == "atom":
        assert [tag.term for tag in entry.tags] == ["policy-brief", "arctic"]
    else:
        assert [tag.scheme for tag in entry.tags] == [
            "http://feeds.test/types/policy-brief",
            "http://feeds.test/topics/arctic",
        ]


def test_rss_text_elements_use_character_references() -> None:
    """`&` and `<` in RSS title, category and author as the RSS Advisory Board's profile asks."""
    body = RENDERERS["rss"](doc()).decode()
    assert "<title>Arctic &#x3C;Cooperation&gt; &#x26; more</title>" in body
    assert "&amp;" not in body.split("<description>")[0]


def test_entries_without_byline_carry_their_topics_author() -> None:
    anonymous = doc((replace(ITEM, author=None),))
    for fmt in ("rss", "atom"):
        parsed = feedparser.parse(RENDERERS[fmt](anonymous))
        assert parsed.entries[0].author == "Arctic Desk"
        assert parsed.feed.author == "feedsvc"
    [item] = json.loads(RENDERERS["json"](anonymous))["items"]
    assert item["authors"] == [{"name": "Arctic Desk"}]


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
    assert item["tags"] == ["Policy Brief", "The Arctic"]
