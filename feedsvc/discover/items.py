"""Find the items of a listing page nobody has written selectors for; pure, no I/O.

The items are the largest group of repeated sibling elements (or `<article>`s) that each
hold a link with heading-like text, outside navigation, page headers, footers and menus.
Schema.org JSON-LD `ItemList`/`Article` links, when the page has them, tip the choice.
The fields inside the items are chosen by `discover_fields`; `discover_report` turns the
result into a `[[topics.sources]]` block and previews it with the real extract/normalize.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urljoin

import lxml.html

from feedsvc.discover.fields import (
    CSS_CLASS,
    UNSTABLE_CLASS,
    Field,
    css_tag,
    find_fields,
    signature,
    title_and_link,
)
from feedsvc.extract.listing import ExtractError, page_language, parse_html

MIN_ITEMS = 2
# Page furniture: what a class or id naming one of these holds is never a list of items.
FURNITURE = re.compile(
    r"(?:^|[-_])(?:menu|menus|nav|navbar|navigation|megamenu|breadcrumbs?|skip|cookie|pager"
    r"|pagination|social|share)(?:$|[-_])",
    re.IGNORECASE,
)
# Carousels repeat slides at both ends as clones: items, but never wanted twice.
CLONE_CLASS = re.compile(r"clone|duplicate", re.IGNORECASE)
FURNITURE_ROLES = {"navigation", "menu", "menubar", "banner", "contentinfo", "search"}


class NothingFound(Exception):
    """No group of items on the page; `tried` says what was looked for."""

    def __init__(self, tried: list[str]) -> None:
        super().__init__("discover: found no list of items")
        self.tried = tried


@dataclass
class Discovery:
    """What discover found: the item selector, the field selectors and how it chose them."""

    item: str
    fields: dict[str, Field]
    items: int
    notes: list[str] = field(default_factory=list)


def discover(body: bytes | str, page_url: str, encoding: str | None = None) -> Discovery:
    """Selectors for the items of this page; raises NothingFound with what was tried."""
    try:
        linked = json_ld_links(body, page_url, encoding)
        document = parse_html(body, encoding)
    except ExtractError as exc:
        raise NothingFound([exc.reason]) from None
    groups = list(_candidate_groups(document))
    if not groups:
        raise NothingFound(
            [
                "looked for repeated sibling elements and <article>s outside nav, header, "
                "footer and menus that each hold a link with a heading-like text: "
                f"no group of {MIN_ITEMS} or more",
                f"schema.org JSON-LD: {len(linked)} item links, but no such elements hold them"
                if linked
                else "schema.org JSON-LD: no ItemList or Article on the page",
            ]
        )
    members = max(groups, key=lambda group: _score(group, linked, page_url))
    item, notes = item_selector(document, members)
    items = document.cssselect(item)
    language = page_language(document)
    fields, field_notes = find_fields(items, (language,) if language else ())
    if "title" not in fields or "link" not in fields:
        raise NothingFound([f"items {item!r}: no one selector picks a title and a link"])
    notes.extend(field_notes)
    if linked:
        on_page = {_absolute(page_url, title_and_link(m)[1]) for m in members}
        notes.append(f"JSON-LD lists {len(linked)} items; {len(linked & on_page)} are among them")
    return Discovery(item, fields, len(items), notes)


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


def is_furniture(element: lxml.html.HtmlElement) -> bool:
    """Inside navigation, a menu, or the page's own header or footer (not an article's)."""
    for node in [element, *element.iterancestors()]:
        if node.tag == "nav" or node.get("role") in FURNITURE_ROLES:
            return True
        if node.tag in ("header", "footer") and next(node.iterancestors("article"), None) is None:
            return True
        names = f"{node.get('class') or ''} {node.get('id') or ''}".split()
        if any(FURNITURE.search(name) for name in names):
            return True
    return False


def _candidate_groups(document: lxml.html.HtmlElement) -> Iterable[list]:
    """Sibling elements of one tag that each hold a headed link; and every outer <article>."""
    for parent in document.iter():
        if not isinstance(parent.tag, str):
            continue
        by_tag: dict[str, list] = {}
        for child in parent:
            if isinstance(child.tag, str):
                by_tag.setdefault(child.tag, []).append(child)
        for siblings in by_tag.values():
            members = [c for c in siblings if title_and_link(c)[0] is not None]
            if len(members) >= MIN_ITEMS and not is_furniture(parent):
                yield members
    articles = [
        a
        for a in document.iter("article")
        if next(a.iterancestors("article"), None) is None and title_and_link(a)[0] is not None
    ]
    articles = [a for a in articles if not is_furniture(a)]
    if len(articles) >= MIN_ITEMS:
        yield articles


def _score(members: list, linked: set[str], page_url: str) -> tuple[int, int]:
    """More items first; JSON-LD links count twice; then the group with more text."""
    hits = 0
    if linked:
        hits = sum(_absolute(page_url, title_and_link(m)[1]) in linked for m in members)
    return len(members) + 2 * hits, sum(len(m.text_content()) for m in members)


def _absolute(page_url: str, link: lxml.html.HtmlElement | None) -> str:
    href = (link.get("href") or "") if link is not None else ""
    return urljoin(page_url, href.strip()).split("#")[0]


def common_classes(elements: list) -> list[str]:
    """The classes every element has, in the first one's order."""
    first = elements[0].get("class", "").split()
    others = [set(e.get("class", "").split()) for e in elements[1:]]
    return [c for c in first if all(c in o for o in others)]


def item_selector(document: lxml.html.HtmlElement, members: list) -> tuple[str, list[str]]:
    """The shortest selector that matches every member and nothing in menus or page furniture."""
    clones = {c for m in members for c in m.get("class", "").split() if CLONE_CLASS.search(c)}
    members = [m for m in members if not clones & set(m.get("class", "").split())]
    child = signature(members[0], common_classes(members))
    child += "".join(f":not(.{c})" for c in sorted(clones) if CSS_CLASS.match(c))
    candidates = [child] if "." in child or child == "article" else []
    parents = {id(m.getparent()): m.getparent() for m in members}
    if len(parents) == 1:
        parent = members[0].getparent()
        names = [
            c
            for c in parent.get("class", "").split()
            if CSS_CLASS.match(c) and not UNSTABLE_CLASS.search(c)
        ]
        candidates += [f"{css_tag(parent)}.{name} > {child}" for name in names]
        candidates.append(f"{signature(parent)} > {child}")
        holder = next(
            (a for a in parent.iterancestors() if CSS_CLASS.match(a.get("id") or "")), None
        )
        if holder is not None:
            candidates.append(f"#{holder.get('id')} {signature(parent)} > {child}")
        candidates.append(_path(parent) + f" > {child}")
    wanted = {id(m) for m in members}
    for candidate in candidates:
        matched = document.cssselect(candidate)
        if wanted <= {id(m) for m in matched} and all(
            id(m) in wanted or (not is_furniture(m) and title_and_link(m)[0] is not None)
            for m in matched
        ):
            extra = len(matched) - len(members)
            notes = [
                f"item: {len(matched)} elements" + (f" ({extra} in a second list)" * bool(extra))
            ]
            return candidate, notes
    return candidates[-1] if candidates else child, ["item: no selector excludes every other list"]


def _path(element: lxml.html.HtmlElement) -> str:
    """The element's chain of signatures from below <body>: specific, if brittle."""
    chain = [element, *(e for e in element.iterancestors() if e.tag not in ("html", "body"))]
    return " > ".join(signature(e) for e in reversed(chain))
