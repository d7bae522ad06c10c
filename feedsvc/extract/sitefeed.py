"""Read a site's own RSS 1.0/2.0 or Atom feed (`kind = "feed"`) into raw items. Pure.

feedparser reads any dialect and survives broken XML; each entry becomes the same
RawItem a listing page gives, so normalize, store and render treat both alike.
"""

from __future__ import annotations

import html

import feedparser

from feedsvc.extract.listing import ExtractError, RawItem

# What a feed may be served as (the fetcher refuses anything else).
FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/xml",
    "text/xml",
)


def feed_items(body: bytes) -> list[RawItem]:
    """Every entry of the feed, in feed order; a body that is no feed at all is an error."""
    parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    if not parsed.entries and not parsed.get("version"):
        problem = parsed.get("bozo_exception")
        raise ExtractError(f"not an RSS or Atom feed ({problem or 'no entries'})")
    return [_raw(position, entry) for position, entry in enumerate(parsed.entries)]


def _raw(position: int, entry: feedparser.FeedParserDict) -> RawItem:
    image, caption = _image(entry)
    categories = tuple(t.get("term") or t.get("label") or "" for t in entry.get("tags", []))
    summary = entry.get("summary", "")
    if entry.get("summary_detail", {}).get("type") == "text/plain":
        summary = html.escape(summary, quote=False)
    date_text = entry.get("published") or entry.get("updated") or ""
    fields = {
        "title": entry.get("title", ""),
        "link": _link(entry),
        "date": date_text,
        "summary": summary,
        "image": image,
        "author": entry.get("author", ""),
    }
    return RawItem(
        position=position,
        title=fields["title"],
        link=fields["link"],
        date_text=date_text,
        summary_html=summary,
        image_src=image,
        image_alt=caption,
        author=fields["author"],
        categories=tuple(c for c in categories if c.strip()),
        found=frozenset(name for name, value in fields.items() if value),
    )


def _link(entry: feedparser.FeedParserDict) -> str:
    """The entry's canonical page: its alternate link, else its link, else a URL-like id."""
    for link in entry.get("links", []):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return link["href"]
    guid = entry.get("id", "")
    return entry.get("link") or (guid if guid.startswith(("http://", "https://")) else "")


def _image(entry: feedparser.FeedParserDict) -> tuple[str, str]:
    """(URL, caption) from media:content / media:thumbnail, else an image enclosure."""
    # feedparser files <media:description> under `content` as text/plain (its issue #53)
    plain = [c.get("value", "") for c in entry.get("content", []) if c.get("type") == "text/plain"]
    caption = plain[0] if plain and entry.get("media_content") else ""
    for media in (*entry.get("media_content", []), *entry.get("media_thumbnail", [])):
        if media.get("url") and media.get("medium", "image") == "image":
            return media["url"], caption
    for link in entry.get("links", []):
        if link.get("rel") == "enclosure" and link.get("type", "").startswith("image/"):
            return link.get("href", ""), caption
    return "", ""
