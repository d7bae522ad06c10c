"""Find a redesigned page's new selectors from the items already stored; pure, no I/O.

After a redesign most stored items are still on the page, in new markup: they are ground
truth. Every list discover finds (and each pair of them: a list split into "featured" and
"latest") is read with the real extract and normalize, in place of the source's selectors,
and ranked by how many of the stored items the page still links it reproduces (same
guid, same title, same day), then by discover's own score. A block that reproduces fewer
than `min_known` of them is shown, never proposed: a repair is never a guess.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import combinations
from pathlib import Path
from typing import Any

from feedsvc.config import ConfigError, SourceConfig
from feedsvc.config.sources import Selectors, parse_source
from feedsvc.discover.fields import Field, selector_toml
from feedsvc.discover.items import Discovery, NothingFound, candidates
from feedsvc.discover.jsonrepair import json_candidates
from feedsvc.discover.report import FIELD_ORDER, checked_block
from feedsvc.extract.jsondoc import documents, json_items
from feedsvc.extract.listing import ExtractError, RawItem, extract, parse_html
from feedsvc.extract.normalize import Context, Excluded, NormalizeError, canonical_link, normalize
from feedsvc.model import Item, KnownItem

LISTS_TRIED = 6  # discover's best lists read as a repair, and every pair of the best four
PAIRED = 4
MIN_RECOGNISED = 3  # fewer stored items found again prove nothing (unless fewer are stored)
BLOCK_PATH = Path("<repair>")


class CannotRepair(Exception):
    """No block reproduces the stored items: `tried` says what was looked at."""

    def __init__(self, reason: str, tried: list[str]) -> None:
        super().__init__(f"cannot repair: {reason}")
        self.tried = tried


@dataclass(frozen=True)
class Ranked:
    """One candidate block read in place of the source's selectors, and what it yields."""

    block: str  # the `[topics.sources.selectors]` keys, TOML, ready to paste
    source: SourceConfig  # the source with these selectors in force
    score: float  # discover's score of the list
    reasons: list[str]
    items: list[Item]
    recognised: list[KnownItem]  # stored items found again: same guid, title and day
    lost: list[KnownItem]  # stored items the page links that it does not reproduce
    new: list[Item]  # items it yields that were never stored
    disagreements: list[str]  # stored items found with another title or date, and how

    def share(self, visible: int) -> float:
        return len(self.recognised) / visible if visible else 0.0


@dataclass(frozen=True)
class Repair:
    """The candidate blocks, best first, and the one proposed (None: none passed the bar)."""

    visible: int  # stored items the page still links
    ranked: list[Ranked]
    proposed: Ranked | None
    min_known: float
    in_force: int  # stored items the source's own selectors still read from the page
    needed: int  # stored items a block must find again at the least

    def why_not(self) -> str:
        """Why nothing is proposed, for `cannot repair: ...`."""
        best = self.ranked[0]
        if len(best.recognised) < self.needed:
            return (
                f"the best block recognises {len(best.recognised)} stored items; a repair "
                f"needs {self.needed} at the least"
            )
        if len(best.recognised) <= self.in_force:
            return (
                f"the selectors in force already read {self.in_force} of the {self.visible} "
                "stored items the page links: its items changed, not its markup"
            )
        return (
            f"the best block recognises {len(best.recognised)} of the {self.visible} stored "
            f"items the page links ({best.share(self.visible):.0%}), under repair_min_known "
            f"{self.min_known:.0%}"
        )


def rank_repairs(
    body: bytes,
    source: SourceConfig,
    page_url: str,
    encoding: str | None,
    known: list[KnownItem],
    min_known: float,
    now: datetime,
) -> Repair:
    """Every candidate block ranked against the stored items; raises CannotRepair when the
    page links none of them or no list on it yields items."""
    if source.kind == "feed":
        raise CannotRepair("a site feed has no selectors to repair", [])
    linked = _linked(body, page_url, encoding, source)
    visible = [item for item in known if item.link in linked]
    if not visible:
        raise CannotRepair(
            f"the page links none of the {len(known)} stored items of this source "
            "(the list is gone, or only JavaScript builds it)",
            [f"looked for the links of {len(known)} stored items among {len(linked)} links"],
        )
    blocks = _blocks(body, source, page_url, encoding, visible)
    ranked: list[Ranked] = []
    for block in blocks:
        try:
            one = _read(body, source, page_url, encoding, visible, now, block)
        except ConfigError:  # a block the config does not take is no candidate
            continue
        parts = [done for done in ranked if done.source.selectors.item in block.parts]
        if all(len(one.recognised) > len(part.recognised) for part in parts):  # a pair must add
            ranked.append(one)
    ranked.sort(key=lambda one: (-len(one.recognised), -one.score, len(one.new)))
    if not ranked:
        raise CannotRepair("no list on the page yields items", [f"{len(blocks)} blocks read"])
    now_read = _compared(body, source, page_url, encoding, visible, now, Block("", 0.0, []))
    in_force = len(now_read.recognised)  # a page that shrank is no redesign: nothing to gain
    needed = min(MIN_RECOGNISED, len(known))
    passing = [
        one
        for one in ranked
        if one.share(len(visible)) >= min_known
        and len(one.recognised) > in_force
        and len(one.recognised) >= needed
    ]
    proposed = passing[0] if passing else None
    return Repair(len(visible), ranked, proposed, min_known, in_force, needed)


def selectors_block(source: SourceConfig, block: str) -> SourceConfig:
    """The source with a stored block's selectors in force, read by the config loader."""
    try:
        table = tomllib.loads(block)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(BLOCK_PATH, "selectors", f"not valid TOML: {exc}") from None
    raw = {"url": source.url, "kind": source.kind, "selectors": table}
    selectors = parse_source(raw, {}, None, BLOCK_PATH, "").selectors
    # a browser source waited for the old markup: it waits for the new items instead
    wait_for = selectors.item if source.wait_for and source.kind == "page" else source.wait_for
    return replace(source, selectors=selectors, wait_for=wait_for)


def selectors_toml(selectors: Selectors) -> str:
    """A source's selectors as `[topics.sources.selectors]` keys (what a repair's diff shows)."""
    lines = []
    for key in FIELD_ORDER:
        value = getattr(selectors, key)
        if isinstance(value, str):  # `item` and `next` are CSS strings
            lines.append(f"{key} = {Field(value).toml()}")
        elif value:
            parts = [selector_toml(s) for s in value]
            lines.append(f"{key} = {parts[0] if len(parts) == 1 else '[' + ', '.join(parts) + ']'}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Block:
    """A selectors table to try, discover's score and reasons, and the item selectors of the
    lists it joins (empty for one list)."""

    table: str
    score: float
    reasons: list[str]
    parts: tuple[str, ...] = ()


def _blocks(
    body: bytes,
    source: SourceConfig,
    page_url: str,
    encoding: str | None,
    visible: list[KnownItem],
) -> list[Block]:
    """The blocks to try: discover's best lists, then each pair of the best (one list split
    in two keeps the same markup inside its items)."""
    if source.kind == "json":
        return [Block(*found) for found in json_candidates(body, encoding, source.json, visible)]
    try:
        found = candidates(body, page_url, encoding, LISTS_TRIED)
    except NothingFound as exc:
        raise CannotRepair("discover finds no list on the page", exc.tried) from None
    blocks = [_html_block(page_url, one.item, one, ()) for one in found]
    for one, other in combinations(found[:PAIRED], 2):
        pair = _html_block(page_url, f"{one.item}, {other.item}", one, (one.item, other.item))
        if pair is not None:
            reasons = [f"the lists {one.item!r} and {other.item!r} read together"]
            blocks.append(Block(pair.table, max(one.score, other.score), reasons, pair.parts))
    return [block for block in blocks if block is not None]


def _html_block(page_url: str, item: str, found: Discovery, parts: tuple[str, ...]) -> Block | None:
    """The selectors table of a discovered list (item selector `item`), as the config takes it."""
    fields = {"item": Field(item), **found.fields}
    try:
        block, _ = checked_block(page_url, fields, [])
    except ConfigError:  # the fields' forms are not this version's: not a candidate
        return None
    table = block.split("[topics.sources.selectors]\n", 1)[1]
    return Block(table, found.score, list(found.reasons), parts)


def _read(
    body: bytes,
    source: SourceConfig,
    page_url: str,
    encoding: str | None,
    visible: list[KnownItem],
    now: datetime,
    block: Block,
) -> Ranked:
    """The page read with `block` in force, compared with the stored items it links."""
    return _compared(
        body, selectors_block(source, block.table), page_url, encoding, visible, now, block
    )


def _compared(
    body: bytes,
    repaired: SourceConfig,
    page_url: str,
    encoding: str | None,
    visible: list[KnownItem],
    now: datetime,
    block: Block,
) -> Ranked:
    """The page read as `repaired` reads it, compared with the stored items it links."""
    items = _items(body, repaired, page_url, encoding, now)
    recognised, lost, disagreements = [], [], []
    for known in visible:
        found = items.get(known.guid)
        differs = _differs(known, found, repaired) if found else "not found"
        if not differs:
            recognised.append(known)
            continue
        lost.append(known)
        if found:
            disagreements.append(f"{known.link}: {differs}")
    stored = {known.guid for known in visible}
    new = [item for guid, item in items.items() if guid not in stored]
    return Ranked(
        block.table,
        repaired,
        block.score,
        block.reasons,
        list(items.values()),
        recognised,
        lost,
        new,
        disagreements,
    )


def _differs(known: KnownItem, item: Item, source: SourceConfig) -> str:
    """How an item found again differs from the stored one (title, day); empty: it agrees."""
    if " ".join(known.title.split()).casefold() != " ".join(item.title.split()).casefold():
        return f"title {item.title!r}, stored {known.title!r}"
    if known.published is None:
        return ""
    if item.published is None:
        return f"no date, stored {known.published.date().isoformat()}"
    zone = source.timezone
    day, stored = item.published.astimezone(zone).date(), known.published.astimezone(zone).date()
    return "" if day == stored else f"date {day.isoformat()}, stored {stored.isoformat()}"


def _items(
    body: bytes, source: SourceConfig, page_url: str, encoding: str | None, now: datetime
) -> dict[str, Item]:
    """The page's items as ingest would normalize them with these selectors, by guid."""
    context = Context(page_url=page_url, source=source, type_labels={}, now=now)
    raws: list[RawItem]
    try:
        if source.kind == "json":
            raws = json_items(body, source.selectors, encoding, source.id, source.json)
        else:
            raws = extract(body, source.selectors, encoding, source.id)
    except ExtractError:
        return {}
    items: dict[str, Item] = {}
    for raw in raws:
        try:
            item = normalize(raw, context)
        except (Excluded, NormalizeError):
            continue
        items.setdefault(item.guid, item)
    return items


def _linked(body: bytes, page_url: str, encoding: str | None, source: SourceConfig) -> set[str]:
    """Every canonical link on the page; for JSON, every string of its documents (the
    source's `json` elements of an HTML page) read as a link."""
    try:
        if source.kind == "json":
            texts = _json_strings(documents(body, encoding, source.json))
            return {link for text in texts if (link := canonical_link(text, page_url))}
        document = parse_html(body, encoding)
    except ExtractError:
        return set()
    return {
        link
        for anchor in document.iter("a")
        if (link := canonical_link(anchor.get("href") or "", page_url))
    }


def _json_strings(found: list[Any]) -> list[str]:
    """Every string in JSON documents (links among them)."""
    strings: list[str] = []
    stack = list(found)
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            strings.append(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return strings
