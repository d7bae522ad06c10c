"""Which element of an item is its title and which link it leads to; pure, no I/O.

A heading with a link, else an element whose class says "title", else the item's most
title-like link: three words or more (CJK counted by characters), else one named like
its address; never a call to action ("Read more") or a file to download.
"""

from __future__ import annotations

import re

import lxml.html
from slugify import slugify

HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
TITLE_CLASS = re.compile(r"title|headline|heading", re.IGNORECASE)
ACTION_TEXT = re.compile(r"^(read|read more|more|listen|watch|view|download|learn more)\W*$", re.I)
# A file to download (a release's source archive) is never what the item's title links to.
DOWNLOAD = re.compile(r"\.(?:zip|tar|gz|tgz|bz2|xz|7z|rar|exe|dmg|msi|deb|rpm|apk|iso)$", re.I)
Element = lxml.html.HtmlElement


def title_and_link(item: Element) -> tuple[Element | None, Element | None]:
    """The element whose text is the item's title and the <a href> it leads to, or Nones:
    a heading with a link, else an element whose class says "title" with a link (a table's
    rank cell `td.title` has none), else the item's most title-like link."""
    headed = (h for h in item.iter(*HEADINGS) if _words(h))
    classed = (e for e in item.iter() if TITLE_CLASS.search(e.get("class") or "") and _words(e))
    only = _only_link(item)
    for title in (*headed, *classed):
        link = _link_of(title, item)
        if link is not None:
            return _clean_title(title, link), link
        if only is not None and title.tag in HEADINGS:  # a card: <h4>Title</h4><a>...</a>
            return title, only
    links = [
        a
        for a in item.iter("a")
        if _usable(a)
        and text_of(a)
        and not ACTION_TEXT.match(text_of(a))
        and not DOWNLOAD.search((a.get("href") or "").split("?")[0])
    ]
    link = max(links, key=_title_weight, default=None)  # how title-like: scored
    return (_first_block(link), link) if link is not None else (None, None)


def _title_weight(link: Element) -> tuple[bool, bool, float, int]:
    """A link with three words or more, else one named like its address ("v2.4.2" for
    /releases/tag/v2.4.2, not "19 commits"); then the longer text, the deeper address."""
    text = text_of(link)
    size = title_size(text)
    path = (link.get("href") or "").split("?")[0].rstrip("/")
    last = path.rsplit("/", 1)[-1].lower()
    slug = slugify(text)
    named = any(c.isalpha() for c in slug) and slug in (last, slugify(last))  # not "#4886"
    return size >= 3, named, size, path.count("/")


def _first_block(link: Element) -> Element:
    """A link made of blocks ("<div>Title</div><div>Number</div><div>Class</div>"): its
    first block is the title; any other link is its own title."""
    blocks = [c for c in link if c.tag in ("div", "p") and text_of(c)]
    loose = (link.text or "") + "".join(c.tail or "" for c in link)
    return blocks[0] if len(blocks) >= 2 and not loose.strip() else link


def _only_link(item: Element) -> Element | None:
    """The item's link when all its usable links go to one address (a card), else None."""
    links = [a for a in item.iter("a") if _usable(a)]
    return links[0] if links and len({a.get("href").strip() for a in links}) == 1 else None


def _link_of(title: Element, item: Element) -> Element | None:
    inside = next((a for a in title.iter("a") if _usable(a)), None)
    if inside is not None:
        return inside
    for ancestor in [title, *title.iterancestors()]:
        if ancestor.tag == "a" and _usable(ancestor):
            return ancestor
        if ancestor is item:
            break
    return None


def _clean_title(title: Element, link: Element) -> Element:
    """A heading that also holds a call to action ("Read") or more than its link: narrow it."""
    actions = [e for e in title.iter() if e is not title and ACTION_TEXT.match(text_of(e))]
    if actions:
        parts = [c for c in title if c not in actions and not any(a in c.iter() for a in actions)]
        best = max(parts, key=lambda c: len(text_of(c)), default=None)
        if best is not None and text_of(best):
            return best
    if link in title.iterdescendants() and len(text_of(link)) < 0.8 * len(text_of(title)):
        return link
    return title


def _usable(a: Element) -> bool:
    href = (a.get("href") or "").strip()
    return bool(href) and not href.startswith(("#", "javascript:", "mailto:"))


def text_of(element: Element) -> str:
    return " ".join(element.text_content().split())


def _words(element: Element) -> list[str]:
    return text_of(element).split()


CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def title_size(text: str) -> float:
    """Words, with Chinese, Japanese and Korean characters counted as half a word each
    (their titles have no spaces: "市政府召开安全生产工作会议" is a title, not one word)."""
    cjk = len(CJK.findall(text))
    return len(CJK.sub(" ", text).split()) + cjk / 2
