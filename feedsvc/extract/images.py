"""Find an item's image where pages put it: src, lazy data-* attributes, srcset, <picture>
and CSS background-image. Pure; URLs are returned as written (normalize makes them absolute)."""

from __future__ import annotations

import re

import lxml.html

LAZY_ATTRIBUTES = ("data-src", "data-lazy-src", "data-original", "data-bg", "data-image")
SRCSET_ATTRIBUTES = ("data-srcset", "srcset")
BACKGROUND_URL = re.compile(r"""background(?:-image)?\s*:[^;]*url\(\s*['"]?([^'")]+)""", re.I)
SRCSET_WIDTH = re.compile(r"^(\d+(?:\.\d+)?)([wx])$")


def image_source(element: lxml.html.HtmlElement) -> str:
    """The best image URL of an element: an <img>, a <picture>, or any element (or one inside
    it) carrying the image as a lazy attribute or a background; a data: URI is a placeholder."""
    img = element if element.tag == "img" else next(element.iter("img"), None)
    candidates: list[str] = []
    if img is not None:
        candidates += [largest_in_srcset(img.get(a)) for a in SRCSET_ATTRIBUTES]
        # libxml2 does not know <source> is void: the <img> may sit inside it
        picture = next(img.iterancestors("picture"), None)
        if picture is not None:
            candidates += [largest_in_srcset(s.get("srcset")) for s in picture.iter("source")]
        candidates += [img.get(a) or "" for a in (*LAZY_ATTRIBUTES, "src")]
    for holder in element.iter():
        candidates += [holder.get(a) or "" for a in LAZY_ATTRIBUTES]
        candidates.append(background_url(holder.get("style") or ""))
    return next((c.strip() for c in candidates if usable(c)), "")


def image_caption(element: lxml.html.HtmlElement) -> tuple[str, str]:
    """(alt, title) of the element's image, or of the element itself for a background image."""
    img = element if element.tag == "img" else next(element.iter("img"), None)
    holder = img if img is not None else element
    return holder.get("alt") or holder.get("aria-label") or "", holder.get("title") or ""


def largest_in_srcset(srcset: str | None) -> str:
    """The widest (or densest) candidate of a srcset; the first when none says its size."""
    best, best_size = "", -1.0
    for candidate in (srcset or "").split(","):
        parts = candidate.split()
        if not parts:
            continue
        size_match = SRCSET_WIDTH.match(parts[1]) if len(parts) > 1 else None
        size = float(size_match.group(1)) if size_match else 0.0
        if size > best_size:
            best, best_size = parts[0], size
    return best


def background_url(style: str) -> str:
    """The URL of a `background-image: url(...)` declaration, or ""."""
    match = BACKGROUND_URL.search(style)
    return match.group(1).strip() if match else ""


def usable(url: str) -> bool:
    url = url.strip()
    return bool(url) and not url.startswith("data:")
