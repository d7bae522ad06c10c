"""Extract raw items from a listing page with CSS selectors; pure, no I/O."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import lxml.html
from lxml import etree

from feedsvc.config import Selectors

# lxml refuses a str that still declares its bytes' encoding (XHTML pages do).
XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
IMAGE_SOURCE_ATTRIBUTES = ("data-src", "data-lazy-src", "data-original", "src")


class ExtractError(Exception):
    """A page that cannot be read as HTML at all."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"extract: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class RawItem:
    """One item as it stands on the page: text as found, links unresolved, nothing parsed."""

    position: int
    title: str = ""
    link: str = ""
    type_label: str = ""
    date_text: str = ""
    summary_html: str = ""
    image_src: str = ""
    image_alt: str = ""
    author: str = ""


def extract(body: bytes | str, selectors: Selectors, encoding: str | None = None) -> list[RawItem]:
    """Every item the item selector finds, in page order."""
    document = parse_html(body, encoding)
    return [
        _item(position, element, selectors)
        for position, element in enumerate(document.cssselect(selectors.item))
    ]


def parse_html(body: bytes | str, encoding: str | None = None) -> lxml.html.HtmlElement:
    """Parse leniently; scripts and styles are dropped so their text never leaks into items."""
    if isinstance(body, bytes) and encoding:
        body = XML_DECLARATION.sub("", body.decode(encoding, errors="replace"), count=1)
    if not body or not body.strip():
        raise ExtractError("the page is empty")
    try:
        document = lxml.html.document_fromstring(body)
    except (etree.ParserError, ValueError) as exc:
        raise ExtractError(f"not parseable as HTML ({exc})") from None
    for element in document.xpath("//script | //style | //template"):
        element.drop_tree()
    return document


def _item(position: int, element: lxml.html.HtmlElement, selectors: Selectors) -> RawItem:
    image = _first(element, selectors.image)
    return RawItem(
        position=position,
        title=_text(_first(element, selectors.title)),
        link=_href(_first(element, selectors.link)),
        type_label=_text(_first(element, selectors.type)),
        date_text=_date_text(_first(element, selectors.date)),
        summary_html=_inner_html(_first(element, selectors.summary)),
        image_src=_image_source(image),
        image_alt=(image.get("alt") or "") if image is not None else "",
        author=_text(_first(element, selectors.author)),
    )


def _first(element: lxml.html.HtmlElement, selector: str | None) -> lxml.html.HtmlElement | None:
    if not selector:
        return None
    found = element.cssselect(selector)
    return found[0] if found else None


def _text(element: lxml.html.HtmlElement | None) -> str:
    return element.text_content() if element is not None else ""


def _date_text(element: lxml.html.HtmlElement | None) -> str:
    """A <time datetime> attribute is more exact than its text, so it wins."""
    if element is None:
        return ""
    time = element if element.tag == "time" else next(iter(element.iter("time")), None)
    if time is not None and time.get("datetime"):
        return time.get("datetime")
    return element.text_content()


def _href(element: lxml.html.HtmlElement | None) -> str:
    if element is None:
        return ""
    if element.get("href") is None:
        element = next((a for a in element.iter("a") if a.get("href")), None)
    return (element.get("href") or "").strip() if element is not None else ""


def _inner_html(element: lxml.html.HtmlElement | None) -> str:
    if element is None:
        return ""
    inner = html.escape(element.text or "", quote=False)  # text, not markup: "&lt;b&gt;" stays
    # HTML serialisation: XML's <iframe/> would swallow the rest of the fragment as its text.
    return inner + "".join(
        etree.tostring(child, encoding="unicode", method="html") for child in element
    )


def _image_source(image: lxml.html.HtmlElement | None) -> str:
    """The real image of a lazily loaded <img> hides in data-src; a data: URI is a placeholder."""
    if image is None:
        return ""
    for attribute in IMAGE_SOURCE_ATTRIBUTES:
        value = (image.get(attribute) or "").strip()
        if value and not value.startswith("data:"):
            return value
    srcset = (image.get("srcset") or "").strip()
    return srcset.split(",")[0].split()[0] if srcset else ""
