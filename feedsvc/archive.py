"""RFC 5005 archives: which page holds which members and how the pages link. Pure.

A feed's whole history is cut into pages of `size` members in the order they
joined the feed (page 1 is the oldest), never by date: an old-dated item found
late lands on the newest page, so a full page with a newer one after it never
changes again. Only the newest page grows; it is re-rendered when the feed changes.
"""

from __future__ import annotations

from feedsvc.keys import ArchiveKey, FeedKey, urls


def page_count(members: int, size: int) -> int:
    """How many archive pages `members` items fill; the newest may be partial."""
    return -(-members // size)


def is_final(key: ArchiveKey, pages: int) -> bool:
    """A page with a newer page after it is full and never changes again."""
    return key.page < pages


def current_links(base_url: str, feed: FeedKey, pages: int) -> dict[str, dict[str, str]]:
    """The subscription feed's history link: prev-archive to the newest page, if any."""
    if not pages:
        return {}
    return {"prev-archive": urls(ArchiveKey(feed, pages), base_url)}


def page_links(
    base_url: str, key: ArchiveKey, pages: int, current: dict[str, str]
) -> dict[str, dict[str, str]]:
    """An archive page's links: current (the subscription feed), older and newer pages."""
    links = {"current": current}
    if key.page > 1:
        links["prev-archive"] = urls(ArchiveKey(key.feed, key.page - 1), base_url)
    if key.page < pages:
        links["next-archive"] = urls(ArchiveKey(key.feed, key.page + 1), base_url)
    return links
