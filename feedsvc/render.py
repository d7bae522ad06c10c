"""Render a feed document to bytes: one renderer per format, in a registry. Pure.

feedgen writes RSS 2.0 and Atom 1.0; JSON Feed 1.1 is plain JSON. Every date is
explicit (feedgen would otherwise stamp "now" and change the bytes on each render).
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import mimetypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedEntry, FeedGenerator
from feedgen.util import xml_elem

from feedsvc.formats import MEDIA_TYPES
from feedsvc.model import Rendered, StoredItem
from feedsvc.version import __version__

MEDIA_NS = "http://search.yahoo.com/mrss/"
ATOM_NS = "http://www.w3.org/2005/Atom"
HISTORY_NS = "http://purl.org/syndication/history/1.0"  # RFC 5005 feed paging and archiving
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"


@dataclass(frozen=True)
class FeedDoc:
    """Everything a renderer needs: feed metadata, its URLs and its entries, newest first."""

    id: str
    title: str
    description: str
    home_url: str
    urls: dict[str, str]
    updated: datetime
    ttl_minutes: int
    author: str
    types_url: str
    topics_url: str
    entries: Sequence[StoredItem]
    links: dict[str, dict[str, str]] = field(default_factory=dict)  # rel -> format -> URL
    hub: str | None = None  # the WebSub hub subscribers may use
    archive: bool = False  # an RFC 5005 archive document, marked <fh:archive/>
    stylesheet_url: str | None = None


def render_rss(doc: FeedDoc) -> bytes:
    """RSS 2.0 with content:encoded, media:* and an enclosure per image."""
    return with_stylesheet(_feedgen(doc, "rss").rss_str(pretty=True), doc.stylesheet_url)


def render_atom(doc: FeedDoc) -> bytes:
    """Atom 1.0 with html summary and content and media:* per image."""
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
        "items": [_json_item(item) for item in doc.entries],
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


def package(body: bytes, doc: FeedDoc) -> Rendered:
    """Bytes plus a gzip copy, a strong ETag from their hash and Last-Modified from the data."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Rendered(body, gzip.compress(body, compresslevel=6, mtime=0), etag, doc.updated)


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
    """Body of content:encoded and Atom content: the image with its caption, then the summary."""
    if item.content_html is not None:
        return item.content_html
    parts = []
    if item.image_url:
        alt = html.escape(item.image_caption or "", quote=True)
        parts.append(f'<figure><img src="{html.escape(item.image_url, quote=True)}" alt="{alt}">')
        if item.image_caption:
            parts.append(f"<figcaption>{html.escape(item.image_caption)}</figcaption>")
        parts.append("</figure>")
    if item.summary_html:
        parts.append(f"<p>{item.summary_html}</p>")
    parts.append(
        f'<p><a href="{html.escape(item.link, quote=True)}">{html.escape(item.type_label)}: '
        f"{html.escape(item.title)}</a></p>"
    )
    return "".join(parts)


def image_type(url: str) -> str:
    """The image's media type guessed from its name; JPEG when the name says nothing."""
    guessed, _ = mimetypes.guess_type(url.split("?")[0])
    return guessed if guessed and guessed.startswith("image/") else "image/jpeg"


def _feedgen(doc: FeedDoc, fmt: str) -> FeedGenerator:
    fg = FeedGenerator()
    fg.register_extension("media", _MediaFeed, _MediaEntry)
    fg.load_extension("dc", atom=False, rss=True)  # RSS <author> must be an email: dc:creator
    fg.register_extension("history", _HistoryFeed)
    fg.history.document(doc, fmt)
    fg.id(doc.id)
    fg.title(doc.title)
    fg.subtitle(doc.description)
    fg.author({"name": doc.author, "uri": doc.home_url})
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
    categories = [{"term": item.type_slug, "label": item.type_label, "scheme": doc.types_url}]
    categories += [{"term": topic, "scheme": doc.topics_url} for topic in item.topics]
    fe.category(categories)
    if item.author:
        fe.author(name=item.author)
        fe.dc.dc_creator(item.author)
    if item.image_url:
        fe.media.image(item)
        if fmt == "rss":  # Atom would turn it into a second alternate link (feedgen #135)
            fe.enclosure(item.image_url, "0", image_type(item.image_url))


def _json_item(item: StoredItem) -> dict:
    entry = {
        "id": item.guid,
        "url": item.link,
        "title": item.title,
        "content_html": entry_html(item),
        "summary": item.summary_text,
        "date_published": item.published.isoformat(),
        "date_modified": item.updated.isoformat(),
        "tags": [item.type_label, *item.topics],
    }
    if item.image_url:
        entry["image"] = item.image_url
    if item.author:
        entry["authors"] = [{"name": item.author}]
    return entry


class _HistoryFeed(BaseExtension):
    """Feed-level links feedgen cannot write in RSS, and RFC 5005's <fh:archive/>.

    The links (hub, current, prev-archive, next-archive) are atom:link elements
    in both formats; feedgen only writes rel="self" into RSS.
    """

    def __init__(self) -> None:
        self._doc: FeedDoc | None = None
        self._fmt = ""

    def document(self, doc: FeedDoc, fmt: str) -> None:
        """Set the document and format being rendered, which the extend_* hooks then read."""
        self._doc, self._fmt = doc, fmt

    def extend_ns(self) -> dict[str, str]:
        """Declare fh: only on archive pages, so current feeds carry no unused namespace."""
        return {"fh": HISTORY_NS} if self._doc and self._doc.archive else {}

    def _extend(self, parent: object, link_tag: str) -> None:
        """Write <fh:archive/> and the feed-level links into `parent`, one format's URLs each."""
        doc = self._doc
        if doc is None:
            return
        if doc.archive:
            xml_elem(f"{{{HISTORY_NS}}}archive", parent)
        if doc.hub:
            xml_elem(link_tag, parent, rel="hub", href=doc.hub)
        media_type = MEDIA_TYPES[self._fmt].split(";")[0]
        for rel, urls in doc.links.items():
            xml_elem(link_tag, parent, rel=rel, href=urls[self._fmt], type=media_type)

    def extend_atom(self, feed: object) -> object:
        """Atom: the links go straight into <feed>."""
        self._extend(feed, "link")  # feedgen's Atom elements take the default namespace
        return feed

    def extend_rss(self, feed: object) -> object:
        """RSS: the links go into <channel> as atom:link, as RFC 5005 and WebSub advise."""
        self._extend(feed[0], f"{{{ATOM_NS}}}link")  # type: ignore[index]  # into <channel>
        return feed


class _MediaFeed(BaseExtension):
    """Declares the Media RSS namespace on the feed."""

    def extend_ns(self) -> dict[str, str]:
        return {"media": MEDIA_NS}


class _MediaEntry(BaseEntryExtension):
    """media:content with the caption as media:description and the credit as media:credit.

    feedgen's own media extension cannot write description or credit, which
    newsletter tools and readers show under the image.
    """

    def __init__(self) -> None:
        self._item: StoredItem | None = None

    def image(self, item: StoredItem) -> None:
        self._item = item

    def _extend(self, entry: object) -> object:
        item = self._item
        if item is None or not item.image_url:
            return entry
        content = xml_elem(
            f"{{{MEDIA_NS}}}content",
            entry,
            url=item.image_url,
            medium="image",
            type=image_type(item.image_url),
        )
        if item.image_caption:
            description = xml_elem(f"{{{MEDIA_NS}}}description", content, type="plain")
            description.text = item.image_caption
        if item.image_credit:
            credit = xml_elem(f"{{{MEDIA_NS}}}credit", content)
            credit.text = item.image_credit
        xml_elem(f"{{{MEDIA_NS}}}thumbnail", entry, url=item.image_url)
        return entry

    extend_rss = _extend
    extend_atom = _extend
