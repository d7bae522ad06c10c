"""Which stored items a corrected extraction no longer yields, though the page still links them.

After a too-broad selector stored menu links, the fix stops extracting them but they stay
stored. Those are the items `feedsvc hide --source-of T:N --not-on-page` hides: linked from
the current page, no longer extracted from it. Items the page no longer links at all have
scrolled off: they are history and stay. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable

from feedsvc.extract.listing import parse_html
from feedsvc.extract.normalize import canonical_link
from feedsvc.fetch.client import Fetched
from feedsvc.store.hiding import ListedItem


def linked_from(pages: Iterable[Fetched]) -> set[str]:
    """Every http(s) link on the pages, canonical as items' links are."""
    links = set()
    for page in pages:
        for anchor in parse_html(page.body, page.encoding).iter("a"):
            link = canonical_link(anchor.get("href") or "", page.url)
            if link:
                links.add(link)
    return links


def not_extracted(
    stored: Iterable[ListedItem], yielded: set[str], linked: set[str]
) -> list[ListedItem]:
    """Visible stored items the pages still link but the extraction does not yield."""
    return [
        item
        for item in stored
        if not item.hidden and item.guid not in yielded and item.link in linked
    ]
