"""Score a group of repeated elements by the evidence that it is the list a subscriber
wants, not by its size; pure, no I/O.

A tag cloud, a menu or a share box can hold more links than the list of posts. What a
list of items has and they lack: distinct links into the same site at a deeper path, link
texts that read like titles, a date, a heading or an image per item, a place in the main
content, some text beside the links, and links that look alike (one URL pattern). Every
signal adds to the score with a reason the operator can read (`discover --candidates`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import lxml.html

from feedsvc.discover.titles import ACTION_TEXT, HEADINGS, title_and_link, title_size

Element = lxml.html.HtmlElement
# A cheap look for a date in an item's text, in the forms of many languages (the exact
# reading is extract's, once the date field is chosen).
DATE_HINT = re.compile(
    r"\d{4}\s*[-/.年]\s*\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}"
    r"|\d{1,2}\.?\s+(?:de\s+)?[^\W\d_]{3,}\.?,?\s+(?:de\s+)?\d{4}"
    r"|[^\W\d_]{3,}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}"
    r"|\d+\s*(?:secs?|seconds?|mins?|minutes?|hours?|days?|weeks?|months?)\s+ago"
    r"|\b(?:vor|hace|il y a|há)\s+\d+|\d+\s*(?:分|時間|天|日)前",
    re.IGNORECASE,
)
MAIN = re.compile(
    r"(?:^|[-_])(?:main|content|primary|posts?|articles?|entries|news|list|results)", re.I
)
ASIDE = re.compile(
    r"(?:^|[-_])(?:sidebar|side|aside|widget|widgets|tags?|tagcloud|cloud|labels?|related"
    r"|popular|trending|recommended|ads?|banner|promo|comments?|calendar|blogroll"
    r"|footer|header|menu|share|social|login)(?:$|[-_]|\d)",
    re.IGNORECASE,
)
TAXONOMY_PATH = re.compile(
    r"/(?:tags?|category|categories|label|labels|author|user|users|topics?)/", re.IGNORECASE
)


FEW = 4  # a list of two or three is more often a teaser box than the page's list


@dataclass
class Candidate:
    """A group of repeated elements, its score and why."""

    members: list[Element]
    score: float
    reasons: list[str]


def score(
    members: list[Element], page_url: str, linked: set[str], canonical: str = ""
) -> Candidate:
    """The group's score: each signal's share of items, weighted, with its reason. The
    page's site is its address's and the one its canonical link names (a page read from a
    mirror, an archive or a local copy still links into its own site)."""
    count = len(members)
    pairs = [title_and_link(m) for m in members]
    links = [_absolute(page_url, link) for _, link in pairs]
    texts = [
        " ".join(title.text_content().split()) if title is not None else "" for title, _ in pairs
    ]
    pages = [urlsplit(page_url), *([urlsplit(canonical)] if canonical else [])]
    reasons: list[str] = []
    total = 0.0

    def add(weight: float, share: float, reason: str) -> None:
        nonlocal total
        total += weight * share
        if share:
            reasons.append(f"{reason} ({weight * share:+.1f})")

    add(3.0, min(math.log2(count), 5) / 5, f"{count} items")
    if count < FEW:
        add(-2.0, 1.0, f"only {count} items")
    add(2.0, len(set(links)) / count, f"{len(set(links))} distinct links")
    deeper = sum(any(_deeper(link, page) for page in pages) for link in links) / count
    add(2.0, deeper, f"{deeper:.0%} link deeper into the same site")
    taxonomy = sum(bool(TAXONOMY_PATH.search(urlsplit(link).path)) for link in links) / count
    add(-2.0, taxonomy, f"{taxonomy:.0%} link to tags, categories or authors")
    titled = sum(_title_like(text) for text in texts) / count
    add(3.0, titled, f"{titled:.0%} have a title-like link text")
    dated = sum(bool(DATE_HINT.search(m.text_content())) for m in members) / count
    add(2.0, dated, f"{dated:.0%} have a date")
    headed = sum(next(m.iter(*HEADINGS), None) is not None for m in members) / count
    add(1.0, headed, f"{headed:.0%} have a heading")
    pictured = sum(next(m.iter("img"), None) is not None for m in members) / count
    add(0.5, pictured, f"{pictured:.0%} have an image")
    density = sum(_link_density(m) for m in members) / count
    add(-1.0, max(0.0, density - 0.6) / 0.4, f"link density {density:.0%}")
    alike = _alike(links)
    add(1.0, alike, f"{alike:.0%} of links share one URL pattern")
    place = _place(members[0])
    if place:
        add(place[0], 1.0, place[1])
    if linked:
        hits = sum(link in linked for link in links) / count
        add(3.0, hits, f"{hits:.0%} listed in the page's schema.org data")
    return Candidate(members, total, reasons)


def _absolute(page_url: str, link: Element | None) -> str:
    href = (link.get("href") or "") if link is not None else ""
    try:
        return urljoin(page_url, href.strip()).split("#")[0]
    except ValueError:
        return page_url


def _deeper(link: str, page: object) -> bool:
    """A link on the page's site (its host, or its parent domain) to another, longer path."""
    parts = urlsplit(link)
    host, own = parts.hostname or "", page.hostname or ""  # type: ignore[attr-defined]
    same = (
        host == own
        or host.endswith("." + own.removeprefix("www."))
        or own.endswith("." + host.removeprefix("www."))
    )
    target = parts.path.rstrip("/") + ("?" + parts.query if parts.query else "")
    here = page.path.rstrip("/") + ("?" + page.query if page.query else "")  # type: ignore[attr-defined]
    return same and bool(target) and target != here and len(target) > 1


def _title_like(text: str) -> bool:
    """Three words or more (CJK counted by characters), not a call to action, not a number."""
    return 3 <= title_size(text) <= 40 and not ACTION_TEXT.match(text) and not text.isdigit()


def _link_density(member: Element) -> float:
    text = len("".join(member.text_content().split()))
    if not text:
        return 1.0
    linked = sum(len("".join(a.text_content().split())) for a in member.iter("a"))
    return min(1.0, linked / text)


def _alike(links: list[str]) -> float:
    """The share of links with the most common shape: host, path depth and first segment."""
    shapes = Counter()
    for link in links:
        parts = urlsplit(link)
        segments = [s for s in parts.path.split("/") if s]
        shapes[(parts.hostname, len(segments), segments[0] if len(segments) > 1 else "")] += 1
    return shapes.most_common(1)[0][1] / len(links) if links else 0.0


def _place(member: Element) -> tuple[float, str] | None:
    """Where the group sits: main content (a bonus) or a sidebar, widget or tag cloud."""
    for node in member.iterancestors():
        names = f"{node.get('class') or ''} {node.get('id') or ''}".split()
        if node.tag == "aside" or any(ASIDE.search(name) for name in names):
            return (
                -3.0,
                f"inside {node.tag}{'.' + names[0] if names else ''} (sidebar, widget, cloud)",
            )
        if (
            node.tag in ("main", "article")
            or node.get("role") == "main"
            or any(MAIN.search(name) for name in names)
        ):
            return 1.0, f"inside {node.tag}{'.' + names[0] if names else ''} (main content)"
    return None
