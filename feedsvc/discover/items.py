"""Find the items of a listing page nobody has written selectors for; pure, no I/O.

Every group of repeated elements (discover.groups) is scored by the evidence that it is
the list a subscriber wants (discover.score), not by its size; the best group whose items
yield a title and a link wins, or the K-th when the operator picks another
(`discover --candidates N`, `--pick K`). Schema.org `ItemList`/`Article` links, when the
page has them (JSON-LD or microdata, discover.schema), count as evidence. The fields
inside the items are chosen by discover.fields; discover.report turns the result into a
`[[topics.sources]]` block and previews it with the real extract and normalize.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urljoin

import lxml.html

from feedsvc.config.sources import Selectors
from feedsvc.discover.fields import Field, find_fields
from feedsvc.discover.groups import MIN_ITEMS, candidate_groups, item_selector
from feedsvc.discover.schema import json_ld_links, microdata_links
from feedsvc.discover.score import Candidate, score
from feedsvc.discover.siblings import sibling_fields
from feedsvc.discover.titles import title_and_link
from feedsvc.extract.listing import ExtractError, extract_document, page_language, parse_html

FEED_TYPES = {"application/rss+xml", "application/atom+xml", "application/feed+json"}
MIN_WHOLE = 0.85  # share of matched items with a title and a link (ingest refuses under 80 %)
NEXT_LINKS = ("link[rel~=next]", "a[rel~=next]")  # one, with an address: no guessing
MAX_TRIED = 24  # groups tried, best first, before saying none yields items


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
    feeds: list[str] = field(default_factory=list)  # the page's own feeds, best first


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
        document = parse_html(body, encoding)
        linked = json_ld_links(body, page_url, encoding) | microdata_links(document, page_url)
    except ExtractError as exc:
        raise NothingFound([exc.reason]) from None
    site = canonical_url(document, page_url)
    ranked = sorted(
        (score(group, page_url, linked, site) for group in candidate_groups(document)),
        key=lambda c: -c.score,
    )
    language = page_language(document)
    languages = (language,) if language else ()
    found = list(_usable(document, ranked, languages, count, (page_url, site), linked))
    if not found:
        raise NothingFound(_tried(ranked, linked))
    feeds = feed_links(document, page_url)
    pager = next_page(document)
    for one in found:
        one.feeds = feeds
        if pager:
            one.fields["next"] = Field(pager)
            one.notes.append(f"next: {pager!r}: the page names its next page (for backfill)")
        if linked:
            one.notes.append(f"schema.org data (JSON-LD, microdata) lists {len(linked)} items")
    return found


def next_page(document: lxml.html.HtmlElement) -> str:
    """The selector of the next page's link the page declares itself (`<link rel="next">`,
    else one `<a rel="next">`), or "": what `feedsvc backfill` follows to older pages."""
    for css in NEXT_LINKS:
        if len([e for e in document.cssselect(css) if (e.get("href") or "").strip()]) == 1:
            return css
    return ""


def canonical_url(document: lxml.html.HtmlElement, page_url: str) -> str:
    """The address the page gives itself (`<link rel="canonical">`, else `og:url`), or ""."""
    found = document.xpath(
        '//link[contains(concat(" ", normalize-space(translate(@rel, "CANOIL", "canoil")), " "),'
        ' " canonical ")]/@href | //meta[@property="og:url"]/@content'
    )
    for href in found:
        try:
            url = urljoin(page_url, href.strip())
        except ValueError:  # "http://[::1": no address
            continue
        if url.startswith(("http://", "https://")):
            return url
    return ""


def feed_links(document: lxml.html.HtmlElement, page_url: str) -> list[str]:
    """The feeds the page links itself (`<link rel="alternate" type="application/rss+xml">`,
    Atom, JSON Feed), in page order, each once."""
    found: dict[str, None] = {}
    for link in document.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().split(";")[0].strip()
        href = (link.get("href") or "").strip()
        if "alternate" in rel and kind in FEED_TYPES and href:
            try:
                found[urljoin(page_url, href)] = None
            except ValueError:  # "http://[::1": no address
                continue
    return list(found)


def _usable(
    document: lxml.html.HtmlElement,
    ranked: list[Candidate],
    languages: tuple[str, ...],
    count: int,
    page: tuple[str, str],
    linked: set[str],
) -> Iterator[Discovery]:
    """Discoveries for the best lists whose items give a title and a link, each selector
    once. The best groups get their item selector first and are scored again on what it
    matches: that, not the group, is what preview and ingest will read."""
    selected: dict[str, tuple[Candidate, list[str]]] = {}
    for candidate in ranked[:MAX_TRIED]:
        item, notes = item_selector(document, candidate.members)
        items = document.cssselect(item)
        if _whole(items) < MIN_WHOLE:  # rows without a link (a table's notes): leave them out
            item = f"{item}:has(a[href])"
            items = document.cssselect(item)
            if not items or _whole(items) < MIN_WHOLE:  # ingest would refuse the page
                continue
            notes = [f"item: {len(items)} elements (those holding a link)"]
        if item not in selected and len(items) >= MIN_ITEMS:
            selected[item] = (score(items, page[0], linked, page[1]), notes)
    for item, (candidate, notes) in sorted(selected.items(), key=lambda s: -s[1][0].score):
        items = candidate.members
        fields, field_notes = find_fields(items, languages)
        field_notes += sibling_fields(items, fields, languages)
        if "title" not in fields or "link" not in fields:
            continue
        if not _whole_read(document, item, fields):  # a filter box among the cards: only
            item = f"{item}:has({fields['title'].css})"  # the elements holding a title
            if not _whole_read(document, item, fields):
                continue
            items = document.cssselect(item)
            notes = [f"item: {len(items)} elements (those holding a title)"]
        if (ident := _identity(document, item, fields)) is not None:
            fields["id"] = ident
            field_notes.append(
                f"id: {ident.toml()}: items share links; their titles tell them apart"
            )
        yield Discovery(
            item, fields, len(items), notes + field_notes, candidate.score, candidate.reasons
        )
        count -= 1
        if not count:
            return


def _whole(items: list[lxml.html.HtmlElement]) -> float:
    """The share of items with a title and a link."""
    return sum(title_and_link(i)[1] is not None for i in items) / len(items) if items else 0.0


def _whole_read(document: lxml.html.HtmlElement, item: str, fields: dict[str, Field]) -> bool:
    """Whether extract, with these very selectors, reads a title and a link in enough items
    for ingest to take the page (what preview and the first ingest will see)."""
    chosen = Selectors(
        item=item,
        title=(fields["title"].selector(),),
        link=(fields["link"].selector(),),
    )
    raws = extract_document(document, chosen)
    whole = sum(bool(raw.title.strip()) and bool(raw.link) for raw in raws)
    return bool(raws) and whole >= MIN_WHOLE * len(raws)


def _identity(document: lxml.html.HtmlElement, item: str, fields: dict[str, Field]) -> Field | None:
    """The title as the items' `id` when links repeat but every item sharing a link has its
    own title (two rows of a table linking one advisory, episodes linking their series page):
    else they would be stored as one item."""
    chosen = Selectors(
        item=item, title=(fields["title"].selector(),), link=(fields["link"].selector(),)
    )
    titles: dict[str, list[str]] = {}
    for raw in extract_document(document, chosen):
        if raw.link:
            titles.setdefault(raw.link, []).append(" ".join(raw.title.split()))
    shared = [names for names in titles.values() if len(names) > 1]
    if shared and all(len(set(names)) == len(names) for names in shared):
        return fields["title"]
    return None


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
        f"schema.org JSON-LD and microdata: {len(linked)} item links, but no such elements "
        "hold them"
        if linked
        else "schema.org JSON-LD and microdata: no ItemList or Article on the page",
    ]
