"""An item's main text from its own page, for sources with `content = "full"`. Pure.

trafilatura finds the article among navigation, share bars, comments, related-article
rails and cookie banners; nh3 keeps only harmless markup with absolute links and images;
a text longer than the cap is cut between blocks with a link to the rest. A page with
too little main text (a paywall stub, a page that is all navigation) gives none: the
item keeps its summary and the reason is reported.
"""

from __future__ import annotations

import html
import logging

import lxml.html
import nh3
import trafilatura
from lxml.etree import ParserError

from feedsvc.extract.normalize import XML_ILLEGAL

MAX_FULL_TEXT_CHARS = 100_000  # of sanitised HTML; a longer text is cut between blocks
MIN_FULL_TEXT_CHARS = 400  # of plain text; less is a teaser or a paywall stub, not the text
FULL_TEXT_TAGS = {
    *("p", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd"),
    *("blockquote", "pre", "code", "em", "strong", "b", "i", "u", "sub", "sup", "br", "hr"),
    *("a", "img", "figure", "figcaption", "table", "thead", "tbody", "tr", "th", "td"),
}
FULL_TEXT_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height"},
    "th": {"colspan", "rowspan"},
    "td": {"colspan", "rowspan"},
}

# trafilatura logs every page it finds no text in at WARNING; a failure is reported per item.
logging.getLogger("trafilatura").setLevel(logging.ERROR)


class NoFullText(Exception):
    """The page has no main text worth sending in place of the summary, and why."""


def full_text_html(body: bytes, encoding: str | None, page_url: str) -> str:
    """The page's main text as sanitised HTML with absolute links, at most
    MAX_FULL_TEXT_CHARS; raises NoFullText when there is too little of it."""
    text = body.decode(encoding or "utf-8", errors="replace")
    found = trafilatura.extract(
        XML_ILLEGAL.sub("", text),
        url=page_url,
        output_format="html",
        include_comments=False,
        include_images=True,
        include_links=True,
        include_formatting=True,
        include_tables=True,
        with_metadata=False,
    )
    if not found:
        raise NoFullText("no main text found on the page")
    cleaned = nh3.clean(
        found,
        tags=FULL_TEXT_TAGS,
        attributes=FULL_TEXT_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        url_relative=("rewrite_with_base", page_url),
        link_rel="noopener noreferrer",
    )
    cleaned = XML_ILLEGAL.sub("", cleaned).strip()  # nor may a character reference bring one
    length = len(_plain(cleaned))
    if length < MIN_FULL_TEXT_CHARS:
        raise NoFullText(
            f"only {length} characters of main text (fewer than {MIN_FULL_TEXT_CHARS}): "
            "a teaser, a paywall or a page without an article"
        )
    return _capped(cleaned, page_url)


def _plain(fragment: str) -> str:
    return " ".join(nh3.clean(fragment, tags=set()).split())


def _capped(fragment: str, page_url: str) -> str:
    """The fragment whole when it fits, else its first blocks and a link to the page."""
    if len(fragment) <= MAX_FULL_TEXT_CHARS:
        return fragment
    more = f'<p><a href="{html.escape(page_url, quote=True)}">Continue reading on the site</a></p>'
    try:
        blocks = lxml.html.fragments_fromstring(fragment)
    except ParserError:
        blocks = []
    kept: list[str] = []
    size = len(more)
    for block in blocks:
        if isinstance(block, str):  # text before the first element
            part = nh3.clean_text(block)
        else:
            part = lxml.html.tostring(block, encoding="unicode", with_tail=True)
        if size + len(part) > MAX_FULL_TEXT_CHARS:
            break
        kept.append(part)
        size += len(part)
    return "".join(kept) + more
