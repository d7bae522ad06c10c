"""Preview: what an ingest of a source would store, read exactly as ingest reads it, stored nowhere.

`feedsvc preview` and `feedsvc check --fetch` use it so an operator sees the items, how many
each selector matched and every warning before a single item is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from feedsvc.config import Config, SourceConfig
from feedsvc.extract.listing import FIELDS, ExtractError, coverage
from feedsvc.fetch.client import Fetched, Fetcher, FetchError, page_encoding
from feedsvc.ingest.reading import PageItems, implausible, read_pages, unusable
from feedsvc.ingest.source import fetch_pages
from feedsvc.model import Item


@dataclass(frozen=True)
class SelectorCount:
    """How many of the items on the page one selector found a value in."""

    key: str
    selector: str
    matched: int
    of: int
    not_dates: int = 0  # date selector: values that were text but no date (not in `matched`)
    example: str | None = None  # the first such text

    def line(self) -> str:
        text = f"{self.key}: {self.matched} of {self.of} items"
        if self.not_dates:
            text += f"; {self.not_dates} had text that is not a date: {self.example!r}"
        return text + f' (selector "{self.selector}")'


@dataclass(frozen=True)
class SourcePreview:
    """One source's preview: its items, its selectors' counts and every warning."""

    url: str
    items: list[Item]
    selectors: list[SelectorCount]
    warnings: list[str]
    empty_selector: str | None = None  # the selector to blame when no item came out

    def failure(self) -> str:
        """Why no item came out: the selector that matched nothing, or the page unread."""
        if self.empty_selector:
            return f"{self.empty_selector} matched nothing"
        return self.warnings[0] if self.warnings else "no item"


def preview_source(
    fetcher: Fetcher, config: Config, source: SourceConfig, file: Path | None = None
) -> SourcePreview:
    """Fetch (or read `file` as) the source's page and extract it as ingest would."""
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        pages = _pages(fetcher, source, file)
        found = read_pages(pages, source, dict(config.types), now)
    except (FetchError, ExtractError, OSError) as exc:  # the page could not be read at all
        return SourcePreview(source.url, [], [], [str(exc)])
    counts = _counts(found, source)
    warnings = [w for w in (unusable(found, source) or implausible(config, found),) if w]
    warnings += [f"{key.key} selector matched nothing" for key in counts if not key.matched]
    warnings += found.problems
    warnings += [note for page in pages for note in page.notes]  # requests a browser refused
    warnings += [
        f"date: item {item.position}: {item.date_problem}"
        for item in found.items
        if item.date_problem
    ]
    return SourcePreview(source.url, found.items, counts, warnings, _blamed(found, source, counts))


def _pages(fetcher: Fetcher, source: SourceConfig, file: Path | None) -> list[Fetched]:
    if file is None:
        return fetch_pages(fetcher, source)
    body = file.read_bytes()
    return [Fetched(source.url, 200, body, page_encoding(body, None))]


def _counts(found: PageItems, source: SourceConfig) -> list[SelectorCount]:
    """Per configured selector (every field for a site feed), how many items it matched."""
    total = len(found.raws)
    matched = coverage(found.raws)
    # An item's position is its raw item's index across the pages read (ingest's _placed).
    not_dates = [found.raws[item.position].date_text for item in found.items if item.date_problem]
    counts = [SelectorCount("item", source.selectors.item or "(feed entries)", total, total)]
    for key in FIELDS:
        if source.kind != "feed" and not getattr(source.selectors, key):
            continue
        dates = key == "date" and not_dates
        counts.append(
            SelectorCount(
                key,
                source.selectors.described(key) if source.kind != "feed" else "(feed)",
                matched[key] - len(not_dates) if dates else matched[key],
                total,
                len(not_dates) if dates else 0,
                " ".join(not_dates[0].split()) if dates else None,
            )
        )
    return counts


def _blamed(found: PageItems, source: SourceConfig, counts: list[SelectorCount]) -> str | None:
    """When no item came out: the selector that matched nothing (item, title or link)."""
    if found.items:
        return None
    for count in counts:
        if count.key in ("item", "title", "link") and count.matched == 0:
            return f'{count.key} selector "{count.selector}"'
    return f'title selector "{source.selectors.described("title")}" and link selector'
