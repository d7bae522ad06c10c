"""Print what discover found as a `[[topics.sources]]` block, checked and previewed for real.

The block is validated by the config loader itself and previewed by running the real
extract and normalize with it, so what the operator pastes is what ingest will do. A field
whose form the config does not accept (yet) is dropped, and the block says so.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from feedsvc.config import ConfigError, SourceConfig, parse
from feedsvc.discover.fields import Field
from feedsvc.discover.items import Discovery
from feedsvc.extract.listing import extract
from feedsvc.extract.normalize import Context, Item, NormalizeError, normalize, with_page_years

FIELD_ORDER = ("item", "title", "link", "type", "date", "summary", "image", "author", "next")
PREVIEW_ITEMS = 5
CHECK_PATH = Path("<discover>")


@dataclass(frozen=True)
class Proposal:
    """The printable block, the source it configures and the items it extracts."""

    block: str
    source: SourceConfig
    items: list[Item]
    skipped: int


def propose(found: Discovery, url: str, body: bytes | str, encoding: str | None = None) -> Proposal:
    """The block for `found`, with every field the config accepts, and its preview."""
    fields = {"item": Field(found.item), **found.fields}
    notes = list(found.notes)
    if found.reasons:
        notes.insert(0, f"list: score {found.score:.1f}: " + "; ".join(found.reasons))
    block, source = checked_block(url, fields, notes)
    items, skipped = preview_items(source, url, body, encoding)
    comments = _comments(notes, items, skipped, found.items)
    return Proposal(feed_offer(found.feeds) + block + comments, source, items, skipped)


def checked_block(url: str, fields: dict[str, Field], notes: list[str]) -> tuple[str, SourceConfig]:
    """The block for these fields and the source the config loader reads from it; a field
    whose form the config does not accept is left out (and `notes` says so)."""
    fields = dict(fields)
    while True:
        block = source_block(url, fields)
        try:
            return block, _checked(block)
        except ConfigError as exc:
            name = exc.key.rsplit(".", 1)[-1]
            if name not in fields or name in ("item", "title", "link"):
                raise
            problem = exc.problem.split(", got")[0]
            notes.append(f"{name}: left out, this version's config does not take it ({problem})")
            del fields[name]


def feed_offer(feeds: list[str]) -> str:
    """The page's own feed first, as a `kind = "feed"` block to use instead (commented out:
    pasting both would read the same items twice)."""
    if not feeds:
        return ""
    lines = [
        '# The page links its own feed: a source of kind = "feed" reads the site\'s items as',
        "# it publishes them. To use it instead of the selectors below, paste this block:",
        "# [[topics.sources]]",
        f"# url = {Field(feeds[0]).toml()}",
        '# kind = "feed"',
    ]
    lines += [f"# (also linked: {other})" for other in feeds[1:]]
    return "\n".join(lines) + "\n\n"


def source_block(url: str, fields: dict[str, Field]) -> str:
    """`[[topics.sources]]` with its selectors, in the order docs/config.md lists them."""
    lines = ["[[topics.sources]]", f"url = {Field(url).toml()}"]
    lines += [f"id = {fields['id'].toml()}"] if "id" in fields else []  # a source key
    lines += ["", "[topics.sources.selectors]"]
    lines += [f"{name} = {fields[name].toml()}" for name in FIELD_ORDER if name in fields]
    return "\n".join(lines) + "\n"


def _checked(block: str) -> SourceConfig:
    """The block as the config loader reads it inside a minimal config file."""
    source = tomllib.loads(block)["topics"]["sources"][0]
    raw = {
        "service": {"database": "sqlite://", "base_url": "http://127.0.0.1"},
        "topics": [{"slug": "discovered", "title": "Discovered", "sources": [source]}],
    }
    return parse(raw, CHECK_PATH).topics[0].sources[0]


def preview_items(
    source: SourceConfig, page_url: str, body: bytes | str, encoding: str | None = None
) -> tuple[list[Item], int]:
    """The page's items as ingest would store them (each link once), and how many were skipped."""
    context = Context(page_url=page_url, source=source, type_labels={}, now=datetime.now(UTC))
    items: dict[str, Item] = {}
    skipped = 0
    raws = extract(body, source.selectors, encoding, source.id)
    context = with_page_years(raws, context)
    for raw in raws:
        try:
            item = normalize(raw, context)
        except NormalizeError:
            skipped += 1
            continue
        items.setdefault(item.guid, item)
    return list(items.values()), skipped


def _comments(notes: list[str], items: list[Item], skipped: int, matched: int) -> str:
    """How the selectors were chosen and the first items they extract, as TOML comments."""
    lines = ["", "# How these selectors were chosen:"]
    lines += [f"#   {note}" for note in notes]
    lines.append(
        f"# Preview: {len(items)} items with a title and a link"
        + (f", {skipped} skipped" if skipped else "")
        + f" (of {matched} matched); the first {min(PREVIEW_ITEMS, len(items))}:"
    )
    for number, item in enumerate(items[:PREVIEW_ITEMS], 1):
        date = item.published.date().isoformat() if item.published else "no date"
        image = "image" if item.image_url else "no image"
        lines.append(f"#   {number}. {item.title}")
        lines.append(f"#      {item.link}")
        lines.append(
            f"#      {item.type_label} | {date} | {image} | summary {len(item.summary_text)} chars"
        )
    return "\n".join(lines) + "\n"
