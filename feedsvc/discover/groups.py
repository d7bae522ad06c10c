"""Find the groups of repeated elements that may be a page's items, and the selector that
picks one group and nothing of the page's furniture; pure, no I/O.

A group is the sibling elements of one tag that each hold a link with a title-like text
(table rows included), or every outer `<article>`; groups inside navigation, page headers,
footers and menus are never items.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import lxml.html

from feedsvc.discover.fields import CSS_CLASS, UNSTABLE_CLASS, css_tag, signature
from feedsvc.discover.titles import title_and_link

MIN_ITEMS = 2
MAX_ANCESTORS = 8  # how far up an item selector looks for an id or class to anchor on
# Page furniture: what a class or id naming one of these holds is never a list of items.
_FURNITURE_WORDS = (
    r"(?:menu|menus|nav|navbar|navigation|megamenu|breadcrumbs?|skip|cookie|pager|pagination"
    r"|social|share)"
)
# The word begins or ends the name ("main-menu", "nav-links"): "wpr-grid-pagination-center"
# is a grid that has pagination, not pagination.
FURNITURE = re.compile(rf"^{_FURNITURE_WORDS}(?:$|[-_])|[-_]{_FURNITURE_WORDS}$", re.IGNORECASE)
# Carousels repeat slides at both ends as clones: items, but never wanted twice.
CLONE_CLASS = re.compile(r"clone|duplicate", re.IGNORECASE)
CONTENT_CHARS = 2000  # text (without spaces) that makes a furniture-named element content
CONTENT_LINKED = 0.3  # ... when at most this share of it is link text
FURNITURE_ROLES = {"navigation", "menu", "menubar", "banner", "contentinfo", "search"}


def is_furniture(element: lxml.html.HtmlElement) -> bool:
    """Inside navigation, a menu, or the page's own header or footer (not an article's)."""
    for node in [element, *element.iterancestors()]:
        if node.tag in ("body", "html"):  # "nav-closed" on <body> says nothing of a list
            break
        if _furniture_itself(node):
            return True
    return False


def _furniture_itself(node: lxml.html.HtmlElement) -> bool:
    """Navigation, a menu, a page header or footer by its tag, role, class or id; a class
    is overruled by what the element holds: a page's worth of text, little of it linked
    ("container experiment-repo-nav" around a whole page's content)."""
    if node.tag == "nav" or node.get("role") in FURNITURE_ROLES:
        return True
    if node.tag in ("header", "footer") and next(node.iterancestors("article"), None) is None:
        return True
    names = f"{node.get('class') or ''} {node.get('id') or ''}".split()
    return any(FURNITURE.search(name) for name in names) and not _content(node)


def _content(node: lxml.html.HtmlElement) -> bool:
    """A page's worth of text, little of it in links: content, not navigation."""
    text = len("".join(node.text_content().split()))
    if text < CONTENT_CHARS:
        return False
    linked = sum(len("".join(a.text_content().split())) for a in node.iter("a"))
    return linked < CONTENT_LINKED * text


def candidate_groups(document: lxml.html.HtmlElement) -> Iterable[list]:
    """Sibling elements of one tag that each hold a headed link; and every outer <article>."""
    for parent in _outside_furniture(document):
        kinds: dict[tuple[str, str], list] = {}
        for child in parent:
            if isinstance(child.tag, str) and title_and_link(child)[0] is not None:
                kinds.setdefault((child.tag, ""), []).append(child)
                if name := _first_stable_class(child):
                    kinds.setdefault((child.tag, name), []).append(child)
        seen: set[tuple[int, ...]] = set()
        for members in kinds.values():  # siblings of one tag, and of one tag and class
            key = tuple(id(m) for m in members)
            if len(members) >= MIN_ITEMS and key not in seen:
                seen.add(key)
                yield members
    articles = [
        a
        for a in document.iter("article")
        if next(a.iterancestors("article"), None) is None and title_and_link(a)[0] is not None
    ]
    articles = [a for a in articles if not is_furniture(a)]
    if len(articles) >= MIN_ITEMS:
        yield articles


def _outside_furniture(document: lxml.html.HtmlElement) -> Iterable[lxml.html.HtmlElement]:
    """Every element not in the page's furniture, top down: a furniture subtree is skipped
    whole (each element is judged once, not with all its ancestors again)."""
    stack = [document]
    while stack:
        node = stack.pop()
        if not isinstance(node.tag, str) or (
            node.tag not in ("html", "body") and _furniture_itself(node)
        ):
            continue
        yield node
        stack.extend(reversed(node))


def _first_stable_class(element: lxml.html.HtmlElement) -> str:
    """The element's first class that survives a publish ("item", not "post-123" or "odd")."""
    names = (element.get("class") or "").split()
    return next((c for c in names if CSS_CLASS.match(c) and not UNSTABLE_CLASS.search(c)), "")


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
        ident = parent.get("id") or ""
        if CSS_CLASS.match(ident) and not UNSTABLE_CLASS.search(ident):
            candidates.append(f"#{ident} > {child}")
        candidates += [f"{css_tag(parent)}.{name} > {child}" for name in names]
        candidates.append(f"{signature(parent)} > {child}")
        candidates += _within_ancestor(parent, child)
        candidates.append(_path(parent) + f" > {child}")
    wanted = {id(m) for m in members}

    def fits(matched: list, strict: bool) -> bool:
        """Every member; besides them their siblings (one list) and items outside the
        page's furniture: a few when strict (a "featured" box above the list), any number
        when not (a second list)."""
        if not wanted <= {id(m) for m in matched}:
            return False
        others = [m for m in matched if id(m) not in wanted and id(m.getparent()) not in parents]
        if strict and len(others) > len(members) // 2:
            return False
        return all(not is_furniture(m) and title_and_link(m)[0] is not None for m in others)

    for strict in (True, False):
        for candidate in candidates:
            matched = document.cssselect(candidate)
            if fits(matched, strict):
                extra = len(matched) - len(members)
                second = f" ({extra} in a second list)" * bool(extra and not strict)
                return candidate, [f"item: {len(matched)} elements{second}"]
    return candidates[-1] if candidates else child, ["item: no selector excludes every other list"]


def _within_ancestor(parent: lxml.html.HtmlElement, child: str) -> list[str]:
    """The list's parent inside its nearest ancestors with a stable id or class, nearest
    first: `#content ul.List > li`, `section.news ul > li` (no positional path)."""
    found = []
    for ancestor in list(parent.iterancestors())[:MAX_ANCESTORS]:
        if ancestor.tag in ("html", "body"):
            break
        ident = ancestor.get("id") or ""
        if CSS_CLASS.match(ident) and not UNSTABLE_CLASS.search(ident):
            found.append(f"#{ident} {signature(parent)} > {child}")
        elif "." in signature(ancestor):
            found.append(f"{signature(ancestor)} {signature(parent)} > {child}")
    return found


def _path(element: lxml.html.HtmlElement) -> str:
    """The element's chain of signatures from below <body>: specific, if brittle."""
    chain = [element, *(e for e in element.iterancestors() if e.tag not in ("html", "body"))]
    return " > ".join(signature(e) for e in reversed(chain))
