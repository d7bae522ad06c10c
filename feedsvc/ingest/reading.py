"""Read fetched listing pages into items: extract, then normalize, each link once.

Ingest, preview, backfill and repair all read pages through `read_pages`, so what a
preview shows is what an ingest stores, with the same reasons for what it skips.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from feedsvc.config import Config, SourceConfig
from feedsvc.extract.jsondoc import json_items
from feedsvc.extract.listing import RawItem, coverage, extract
from feedsvc.extract.normalize import (
    Context,
    Excluded,
    NormalizeError,
    merge_copies,
    normalize,
    with_page_years,
)
from feedsvc.extract.sitefeed import feed_items
from feedsvc.fetch.blocked import wall
from feedsvc.fetch.client import Fetched
from feedsvc.model import Item

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PageItems:
    """What the pages of one run hold: usable items (each link once, copies merged), every raw
    item, why each unusable one was skipped, and a note on which selectors missed."""

    items: list[Item]
    raws: list[RawItem]
    problems: list[str]
    missing: str = ""
    blocked: str = ""  # a page without items that is a challenge or captcha page: what it is

    @property
    def skipped(self) -> int:
        return len(self.problems)


def read_pages(
    pages: list[Fetched], source: SourceConfig, labels: dict[str, str], now: datetime
) -> PageItems:
    """Extract and normalize fetched pages, each link once, in page order: ingest and preview
    both read pages through this, so a preview shows exactly what an ingest would store."""
    found: dict[str, Item] = {}
    raws: list[RawItem] = []
    problems: list[str] = []
    blocked = ""
    for page in pages:
        page_raws = _raw_items(page, source)
        context = Context(page_url=page.url, source=source, type_labels=labels, now=now)
        context = with_page_years(page_raws, context)
        if not page_raws and (kind := wall(page.body)):
            blocked = blocked or f"HTTP {page.status} with {kind} at {page.url}"
        for raw in page_raws:
            raws.append(raw)
            try:
                item = normalize(raw, context)
            except Excluded:  # kept out on purpose by link_pattern, include or exclude
                continue
            except NormalizeError as exc:  # one odd item never fails a page
                problems.append(str(exc))
                continue
            except Exception:  # a bug met by one odd item; logged in full, the page goes on
                log.exception("%s: item %d could not be normalized", source.url, raw.position)
                problems.append(f"normalize: item {raw.position}: internal error (logged)")
                continue
            if item.guid in found:  # a menu teaser, then the body teaser: keep the fuller
                found[item.guid] = merge_copies(found[item.guid], item)
            else:
                found[item.guid] = _placed(item, len(raws) - 1)
    missing = _missing_fields(raws, source)
    return PageItems(list(found.values()), raws, problems, missing, blocked)


def unusable(found: PageItems, source: SourceConfig) -> str | None:
    """Why the pages cannot be stored at all (blocked, no item matched, none usable), or None."""
    if not found.raws and found.blocked:
        return f"fetch: blocked by the site: {found.blocked} (no items on the page)"
    if not found.raws and source.kind == "feed":
        return "extract: the feed has no entries"
    if not found.raws:
        return f'extract: no items matched item selector "{source.selectors.item}"'
    if not found.items:
        return (
            f"normalize: none of the {len(found.raws)} items had a title and a link"
            f"{found.missing}{first_item(found)}"
        )
    return None


def first_item(found: PageItems) -> str:
    """The text, on one line, of the first item without a title or link: what its selectors saw."""
    missing = [raw for raw in found.raws if not {"title", "link"} <= raw.found]
    return f'; the first item without a title or link reads: "{missing[0].text}"' if missing else ""


def _raw_items(page: Fetched, source: SourceConfig) -> list[RawItem]:
    if source.kind == "feed":
        return feed_items(page.body)
    if source.kind == "json":
        return json_items(page.body, source.selectors, page.encoding, source.id, source.json)
    return extract(page.body, source.selectors, page.encoding, source.id)


def _missing_fields(raws: list[RawItem], source: SourceConfig) -> str:
    """Which of the title and link selectors found too little, named with their values."""
    if source.kind == "feed":
        return ""
    counts = coverage(raws)
    return "".join(
        f'; {key} selector "{source.selectors.described(key)}" matched {counts[key]} of '
        f"{len(raws)} items"
        for key in ("title", "link")
        if counts[key] < len(raws)
    )


def implausible(config: Config, found: PageItems) -> str | None:
    """Many items without a title or link means the markup changed under the selectors."""
    skipped, total = found.skipped, found.skipped + len(found.items)
    limit = config.ingest.max_incomplete_ratio
    if total and skipped / total > limit:
        return (
            f"normalize: {skipped} of {total} items have no title or usable link (more than "
            f"{limit:.0%}); the page layout may have changed{found.missing}{first_item(found)}"
        )
    return None


def _placed(item: Item, position: int) -> Item:
    """The item with its position across all pages read, so page 2 sorts after page 1."""
    return item if item.position == position else replace(item, position=position)
