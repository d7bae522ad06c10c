"""Find the items of a listing page nobody has written selectors for; pure, no I/O.

Every group of repeated elements (discover.groups) is scored by the evidence that it is
the list a subscriber wants (discover.score), not by its size; the best group whose items
yield a title and a link wins, or the K-th when the operator picks another
(`discover --candidates N`, `--pick K`). Schema.org JSON-LD `ItemList`/`Article` links,
when the page has them, count as evidence. The fields inside the items are chosen by
discover.fields; discover.report turns the result into a `[[topics.sources]]` block and
previews it with the real extract and normalize.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urljoin

import lxml.html

from feedsvc.discover.fields import Field, find_fields, title_and_link
from feedsvc.discover.groups import MIN_ITEMS, candidate_groups, item_selector
from feedsvc.discover.score import Candidate, score
from feedsvc.extract.listing import ExtractError, page_language, parse_html

MIN_WHOLE = 0.85  # share of matched items with a title and a link (ingest refuses under 80 %)
MAX_TRIED = 12  # groups tried, best first, before saying none yields items


class NothingFound(Exception):
    """No group of items on the page; `tried` says what was looked for."""

    def __init__(self, tried: list[str]) -> None:
        super().__init__("discover: found no list of items")
        self.tried = tried


@dataclass
class Discovery:
    """What discover found: the item selector, the field selectors, how it chose them and
    the evidence (score and reasons) that this group is the list."""

    item: str
    fields: dict[str, Field]
    items: int
    notes: list[str] = field(default_factory=list)
    score: float = 0.0
    reasons: list[str] = field(default_factory=list)


def discover(
    body: bytes | str, page_url: str, encoding: str | None = None, pick: int = 1
) -> Discovery:
    """Selectors for the items of this page (the `pick`-th best group); raises NothingFound
    with what was tried."""
    found = candidates(body, page_url, encoding, pick)
    if len(found) < pick:
        raise NothingFound([f"--pick {pick}: the page has only {len(found)} candidate lists"])
    return found[pick - 1]


def candidates(
    body: bytes | str, page_url: str, encoding: str | None = None, count: int = 1
) -> list[Discovery]:
    """The best `count` lists on the page, best first; raises NothingFound when none."""
    try:
        linked = json_ld_links(body, page_url, encoding)
        document = parse_html(body, encoding)
    except ExtractError as exc:
        raise NothingFound([exc.reason]) from None
    ranked = sorted(
        (score(group, page_url, linked) for group in candidate_groups(document)),
        key=lambda c: -c.score,
    )
    language = page_language(document)
    found = list(_usable(document, ranked, (language,) if language else (), count))
    if not found:
        raise NothingFound(_tried(ranked, linked))
    if linked:
        for one in found:
            one.notes.append(f"JSON-LD lists {len(linked)} items")
    return found


def _usable(
    document: lxml.html.HtmlElement,
    ranked: list[Candidate],
    languages: tuple[str, ...],
    count: int,
) -> Iterator[Discovery]:
    """Discoveries for the best groups whose items give a title and a link, each selector once."""
    seen: set[str] = set()
    for candidate in ranked[:MAX_TRIED]:
        item, notes = item_selector(document, candidate.members)
        if item in seen:
            continue
        seen.add(item)
        items = document.cssselect(item)
        whole = sum(title_and_link(i)[1] is not None for i in items)
        if whole < MIN_WHOLE * len(items):  # ingest would refuse the page: not a list
            continue
        fields, field_notes = find_fields(items, languages)
        if "title" not in fields or "link" not in fields:
            continue
        yield Discovery(
            item, fields, len(items), notes + field_notes, candidate.score, candidate.reasons
        )
        count -= 1
        if not count:
            return


def _tried(ranked: list[Candidate], linked: set[str]) -> list[str]:
    """What was looked for, for the operator, when no group gives items."""
    return [
        "looked for repeated sibling elements (table rows too) and <article>s outside nav, "
        "header, footer and menus that each hold a link with a title-like text: "
        + (
            f"{len(ranked)} groups, but in none does one selector pick a title and a link"
            if ranked
            else f"no group of {MIN_ITEMS} or more"
        ),
        f"schema.org JSON-LD: {len(linked)} item links, but no such elements hold them"
        if linked
        else "schema.org JSON-LD: no ItemList or Article on the page",
    ]


def json_ld_links(body: bytes | str, page_url: str, encoding: str | None = None) -> set[str]:
    """Item URLs named by schema.org JSON-LD (ItemList elements, Articles) in the page."""
    document = parse_html(body, encoding, keep_scripts=True)
    links: set[str] = set()
    for script in document.xpath('//script[@type="application/ld+json"]/text()'):
        try:
            nodes = list(_nodes(json.loads(script)))
        except (ValueError, RecursionError):  # not JSON, or nested deeper than Python goes
            continue
        for node in nodes:
            kind = node.get("@type")
            kinds = set(kind) if isinstance(kind, list) else {kind}
            if "ListItem" in kinds or kinds & {"Article", "NewsArticle", "BlogPosting", "Report"}:
                item = node.get("item")
                url = node.get("url") or (item.get("url") if isinstance(item, dict) else item)
                if isinstance(url, str):
                    links.add(urljoin(page_url, url))
    return links


def _nodes(data: object) -> Iterable[dict]:
    """Every JSON object in a JSON-LD document, nested ones included."""
    if isinstance(data, dict):
        yield data
        for value in data.values():
            yield from _nodes(value)
    elif isinstance(data, list):
        for value in data:
            yield from _nodes(value)


def _nodes(data: object) -> Iterable[dict]:
    """Every JSON object in a JSON-LD document, nested ones included."""
    if isinstance(data, dict):
        yield data
        for value in data.values():
            yield from _nodes(value)
    elif isinstance(data, list):
        for value in data:
            yield from _nodes(value)
