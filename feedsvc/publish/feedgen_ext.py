"""feedgen extensions for what feedgen cannot write itself: images, authors, history links. Pure.

Images: one enclosure per image in each XML format (RSS `<enclosure>`, Atom
`<link rel="enclosure">`, which feedgen would strip of its rel: feedgen #135),
plus `media:thumbnail`, with the caption in `media:text` and the credit in
`media:credit` for newsletter templates. Never `media:description` or
`media:title`: feedparser (rss2email and many Python tools) folds those into the
entry's summary or title, and plain-text mail then shows the caption instead of
the summary (feedparser #53). No `media:content` either: SimplePie counts it as a
second enclosure of the same image.
"""

from __future__ import annotations

import mimetypes
from functools import lru_cache
from typing import TYPE_CHECKING

import lxml.etree  # noqa: F401  feedgen.util uses lxml.etree without importing it
from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.util import xml_elem

if TYPE_CHECKING:
    from feedsvc.model import FeedDoc, StoredItem

MEDIA_NS = "http://search.yahoo.com/mrss/"
ATOM_NS = "http://www.w3.org/2005/Atom"
HISTORY_NS = "http://purl.org/syndication/history/1.0"  # RFC 5005 feed paging and archiving


def image_type(item: StoredItem) -> str:
    """The image's media type: as its server said, else guessed from its name, else JPEG."""
    if item.image_type:
        return item.image_type
    name = (item.image_url or "").split("?")[0].rpartition("/")[2]
    return _image_type_of(name.partition(".")[2])


@lru_cache(maxsize=256)
def _image_type_of(suffixes: str) -> str:
    """What mimetypes guesses from a file name's suffixes, once per suffixes: its guess from
    the whole URL costs more than the rest of an entry's image, and only suffixes count."""
    guessed, _ = mimetypes.guess_type("image." + suffixes)
    return guessed if guessed and guessed.startswith("image/") else "image/jpeg"


def image_length(item: StoredItem) -> str:
    """The image's size in bytes for `length`; "0" (RSS's "unknown") until a probe has told."""
    return str(item.image_length or 0)


class HistoryFeed(BaseExtension):
    """Feed-level links feedgen cannot write in RSS, and RFC 5005's <fh:archive/>.

    The links (hub, current, prev-archive, next-archive) are atom:link elements
    in both formats; feedgen only writes rel="self" into RSS.
    """

    def __init__(self) -> None:
        self._doc: FeedDoc | None = None
        self._fmt = ""
        self._media_type = ""

    def document(self, doc: FeedDoc, fmt: str, media_type: str) -> None:
        """Set the document and format being rendered, which the extend_* hooks then read."""
        self._doc, self._fmt, self._media_type = doc, fmt, media_type

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
        for rel, urls in doc.links.items():
            xml_elem(link_tag, parent, rel=rel, href=urls[self._fmt], type=self._media_type)

    def extend_atom(self, feed: object) -> object:
        """Atom: the links go straight into <feed>."""
        self._extend(feed, "link")  # feedgen's Atom elements take the default namespace
        return feed

    def extend_rss(self, feed: object) -> object:
        """RSS: the links go into <channel> as atom:link, as RFC 5005 and WebSub advise."""
        self._extend(feed[0], f"{{{ATOM_NS}}}link")  # type: ignore[index]  # into <channel>
        return feed


class MediaFeed(BaseExtension):
    """Declares the Media RSS namespace on the feed."""

    def extend_ns(self) -> dict[str, str]:
        return {"media": MEDIA_NS}


class MediaEntry(BaseEntryExtension):
    """An entry's image: its one enclosure, thumbnail, caption (media:text) and credit."""

    def __init__(self) -> None:
        self._item: StoredItem | None = None

    def image(self, item: StoredItem) -> None:
        self._item = item

    def _media(self, entry: object) -> None:
        """media:thumbnail, media:text (the caption) and media:credit, at entry level."""
        item = self._item
        assert item is not None and item.image_url
        xml_elem(f"{{{MEDIA_NS}}}thumbnail", entry, url=item.image_url)
        if item.image_caption:
            caption = xml_elem(f"{{{MEDIA_NS}}}text", entry, type="plain")
            caption.text = item.image_caption
        if item.image_credit:
            credit = xml_elem(f"{{{MEDIA_NS}}}credit", entry, role="photographer")
            credit.text = item.image_credit

    def extend_rss(self, entry: object) -> object:
        """RSS: the <enclosure> comes from feedgen itself (FeedEntry.enclosure)."""
        if self._item is not None and self._item.image_url:
            self._media(entry)
        return entry

    def extend_atom(self, entry: object) -> object:
        """Atom: <link rel="enclosure">, written here because feedgen drops the rel (#135)."""
        item = self._item
        if item is None or not item.image_url:
            return entry
        attributes = {"rel": "enclosure", "href": item.image_url, "type": image_type(item)}
        if item.image_length:
            attributes["length"] = str(item.image_length)
        xml_elem("link", entry, **attributes)
        self._media(entry)
        return entry
