"""Render a feed document to bytes: one renderer per format, in a registry. Pure.

feedgen writes RSS 2.0 and Atom 1.0; JSON Feed 1.1 is plain JSON. Every date is
explicit (feedgen would otherwise stamp "now" and change the bytes on each render).
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from feedgen.feed import FeedEntry, FeedGenerator

from feedsvc.formats import MEDIA_TYPES, gzipped
from feedsvc.model import FeedDoc, Rendered, StoredItem
from feedsvc.publish.feedgen_ext import HistoryFeed, MediaEntry, MediaFeed, image_length, image_type
from feedsvc.version import __version__

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"


def render_rss(doc: FeedDoc) -> bytes:
    """RSS 2.0 with content:encoded, dc:creator, media:* and an enclosure per image."""
    xml = _numeric_references(_feedgen(doc, "rss").rss_str(pretty=True))
    return with_stylesheet(xml, doc.stylesheet_url)


# RSS elements that hold plain text, and the two entities written there as character
# references, as the RSS Advisory Board's profile asks: readers differ on `&amp;` in them.
_RSS_TEXT = re.compile(rb"(<(title|category|dc:creator|dc:publisher)\b[^>]*>)([^<]*)(</\2>)")
_REFERENCES = ((b"&amp;", b"&#x26;"), (b"&lt;", b"&#x3C;"))


def _numeric_references(xml: bytes) -> bytes:
    """`&` and `<` in RSS text elements as `&#x26;` and `&#x3C;`; the same text to any parser."""

    def escape(match: re.Match[bytes]) -> bytes:
        text = match.group(3)
        for entity, reference in _REFERENCES:
            text = text.replace(entity, reference)
        return match.group(1) + text + match.group(4)

    return _RSS_TEXT.sub(escape, xml)


def render_atom(doc: FeedDoc) -> bytes:
    """Atom 1.0 with html summary and content, an enclosure link and media:* per image."""
    return with_stylesheet(_feedgen(doc, "atom").atom_str(pretty=True), doc.stylesheet_url)


def render_json(doc: FeedDoc) -> bytes:
    """JSON Feed 1.1 with the same ids, dates and images as the XML formats."""
    feed = {
        "version": JSON_FEED_VERSION,
        "title": doc.title,
        "home_page_url": doc.home_url,
        "feed_url": doc.urls["json"],
        "description": doc.description,
        "authors": [{"name": doc.author, "url": doc.home_url}],
        "language": "en",
        "items": [_json_item(item, doc) for item in doc.entries],
    }
    if "prev-archive" in doc.links:  # newest first, so JSON Feed's "next" page is the older one
        feed["next_url"] = doc.links["prev-archive"]["json"]
    if doc.hub:
        feed["hubs"] = [{"type": "WebSub", "url": doc.hub}]
    return (json.dumps(feed, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


# The renderer of each format in formats.FORMATS, by file extension.
RENDERERS: dict[str, Callable[[FeedDoc], bytes]] = {
    "rss": render_rss,
    "atom": render_atom,
    "json": render_json,
}


def render_all(doc: FeedDoc, **marks: Any) -> dict[str, Rendered]:
    """A document in every format, packaged, with `marks` (final, stale_at) on each."""
    return {name: replace(package(render(doc), doc), **marks) for name, render in RENDERERS.items()}


def package(body: bytes, doc: FeedDoc, *, compress: bool = True) -> Rendered:
    """Bytes plus a gzip copy (none with `compress=False`: the web tier makes it when a
    request first takes gzip), a strong ETag from their hash and Last-Modified from the data."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Rendered(body, gzipped(body) if compress else b"", etag, doc.updated)


def with_stylesheet(xml: bytes, href: str | None) -> bytes:
    """Put `<?xml-stylesheet?>` right after the XML declaration (feedgen cannot write one)."""
    if href is None:
        return xml
    pi = f'<?xml-stylesheet type="text/xsl" href="{html.escape(href, quote=True)}"?>'.encode()
    if not xml.startswith(b"<?xml "):
        return pi + b"\n" + xml
    end = xml.index(b"?>") + 2
    return xml[:end] + b"\n" + pi + xml[end:]


def entry_html(item: StoredItem) -> str:
    """Body of content:encoded, Atom content and content_html: the image with its caption,
    then the page's main text when it was fetched (content = "full"), else the summary."""
    if item.content_html is not None:
        return item.content_html
    parts = []
    if item.image_url:
        alt = html.escape(item.image_caption or "", quote=True)
        parts.append(f'<figure><img src="{html.escape(item.image_url, quote=True)}" alt="{alt}">')
        if item.image_caption:
            parts.append(f"<figcaption>{html.escape(item.image_caption)}</figcaption>")
        parts.append("</figure>")
    if item.full_html:  # the page's main text; the summary stays in description/summary
        parts.append(item.full_html)
    elif item.summary_html:
        parts.append(f"<p>{item.summary_html}</p>")
    parts.append(
        f'<p><a href="{html.escape(item.link, quote=True)}">{html.escape(item.type_label)}: '
        f"{html.escape(item.title)}</a></p>"
    )
    return "".join(parts)


def entry_author(item: StoredItem, doc: FeedDoc) -> str:
    """The item's byline when the page gave one, else its topic's author, else the feed's."""
    topic = item.topics[0] if item.topics else ""
    return item.author or doc.topic_authors.get(topic) or doc.author


def categories(item: StoredItem, doc: FeedDoc, fmt: str) -> list[dict[str, str]]:
    """The item's type and topics: the display label everywhere, the slug as term or domain.

    RSS has no term: its text is the label and its domain the type's or topic's URL.
    """
    found = [(item.type_slug, item.type_label, doc.types_url)]
    found += [(slug, doc.topic_titles.get(slug, slug), doc.topics_url) for slug in item.topics]
    return [
        {"term": slug, "label": label, "scheme": base + slug if fmt == "rss" else base}
        for slug, label, base in found
    ]


def _feedgen(doc: FeedDoc, fmt: str) -> FeedGenerator:
    fg = FeedGenerator()
    fg.register_extension("media", MediaFeed, MediaEntry)
    if fmt == "rss":  # RSS <author> must be an email: dc:creator (Atom has <author><name>)
        fg.load_extension("dc", atom=False, rss=True)
    fg.register_extension("history", HistoryFeed)
    fg.history.document(doc, fmt, MEDIA_TYPES[fmt].split(";")[0])
    fg.id(doc.id)
    fg.title(doc.title)
    fg.subtitle(doc.description)
    fg.author({"name": doc.author, "uri": doc.home_url})
    if fmt == "rss":  # feedparser's feed author (rss2email's From name)
        fg.dc.dc_creator(doc.author)
        fg.dc.dc_publisher(doc.author)
    for name, url in doc.urls.items():
        rel = "self" if name == fmt else "alternate"
        fg.link(href=url, rel=rel, type=MEDIA_TYPES[name].split(";")[0])
    fg.link(href=doc.home_url, rel="alternate", type="text/html")  # last: RSS <link> takes it
    fg.language("en")
    fg.updated(doc.updated)
    fg.lastBuildDate(doc.updated)
    fg.ttl(doc.ttl_minutes)
    fg.generator("feedsvc", version=__version__)
    for item in doc.entries:
        _entry(fg.add_entry(order="append"), item, doc, fmt)
    return fg


def _entry(fe: FeedEntry, item: StoredItem, doc: FeedDoc, fmt: str) -> None:
    fe.guid(item.guid, permalink=item.guid == item.link)
    fe.title(item.title)
    fe.link(href=item.link, rel="alternate")
    fe.published(item.published)
    fe.updated(item.updated)
    fe.summary(item.summary_html or html.escape(item.title), type="html")
    fe.content(entry_html(item), type="html")
    fe.category(categories(item, doc, fmt))
    author = entry_author(item, doc)
    fe.author(name=author)
    if fmt == "rss":
        fe.dc.dc_creator(author)
    if item.image_url:
        fe.media.image(item)
        if fmt == "rss":  # Atom gets <link rel="enclosure"> from MediaEntry (feedgen #135)
            fe.enclosure(item.image_url, image_length(item), image_type(item))


def _json_item(item: StoredItem, doc: FeedDoc) -> dict:
    entry = {
        "id": item.guid,
        "url": item.link,
        "title": item.title,
        "content_html": entry_html(item),
        "summary": item.summary_text,
        "date_published": item.published.isoformat(),
        "date_modified": item.updated.isoformat(),
        "tags": [category["label"] for category in categories(item, doc, "json")],
        "authors": [{"name": entry_author(item, doc)}],
    }
    if item.image_url:
        entry["image"] = item.image_url
        entry["attachments"] = [{"url": item.image_url, "mime_type": image_type(item)}]
        if item.image_length:
            entry["attachments"][0]["size_in_bytes"] = item.image_length
    return entry
