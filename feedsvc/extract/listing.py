"""Extract raw items from a listing page with the source's selectors; pure, no I/O.

Each field is read with a chain of selectors (config's selector language): the
first one that yields a value wins, and the item records which one did, so a
report can say per field how many items had a value.
"""

from __future__ import annotations

import codecs
import copy
import functools
import html
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from urllib.parse import urljoin

import lxml.html
from lxml import etree
from lxml.cssselect import CSSSelector

from feedsvc.config.sources import Chain, Selector, Selectors
from feedsvc.extract.images import image_caption, image_source

# lxml refuses a str that still declares its bytes' encoding (XHTML pages do), BOM or not.
XML_DECLARATION = re.compile(r"^\ufeff?\s*<\?xml[^>]*\?>")
# C0 controls no page means; lxml refuses some of them in a str (NUL, form feed are kept out too).
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CONTROL_BYTES = re.compile(b"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
ITEM_TEXT_CHARS = 160  # how much of an item's text an error message quotes
FIELDS = ("title", "link", "type", "date", "summary", "image", "author")


class ExtractError(Exception):
    """A page that cannot be read as HTML at all."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"extract: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class RawItem:
    """One item as it stands on the page: text as found, links unresolved, nothing parsed.

    `found` names the fields a selector yielded a value for; `categories` are a site
    feed's entry categories; `item_id` is the value of the source's `id` selector.
    """

    position: int
    title: str = ""
    link: str = ""
    type_label: str = ""
    date_text: str = ""
    summary_html: str = ""
    image_src: str = ""
    image_alt: str = ""
    image_title: str = ""
    author: str = ""
    date_formats: tuple[str, ...] = ()
    item_id: str = ""
    categories: tuple[str, ...] = ()
    found: frozenset[str] = frozenset()
    text: str = ""  # the item element's whole text on one line: what its selectors saw
    language: str = ""  # the page's <html lang>: decides how its dates read


def extract(
    body: bytes | str, selectors: Selectors, encoding: str | None = None, id_chain: Chain = ()
) -> list[RawItem]:
    """Every item the item selector finds, in page order."""
    return extract_document(parse_html(body, encoding), selectors, id_chain)


def extract_document(
    document: lxml.html.HtmlElement, selectors: Selectors, id_chain: Chain = ()
) -> list[RawItem]:
    """Every item of a parsed page (discover checks its proposal with this very reading)."""
    language = page_language(document)
    base = base_href(document)
    items = []
    for position, element in enumerate(document.cssselect(selectors.item)):
        raw = _item(position, element, selectors, id_chain)
        items.append(replace(raw, language=language, link=_resolved(base, raw.link)))
    return items


def _resolved(base: str, link: str) -> str:
    """The link against the page's <base href>; as found when there is none or it is no URL."""
    if not base or not link:
        return link
    try:
        return urljoin(base, link)
    except ValueError:  # "http://[::1": normalize says why it is no link
        return link


def base_href(document: lxml.html.HtmlElement) -> str:
    """The page's absolute `<base href>`: its relative links resolve against it, not the
    page's address (as a browser resolves them)."""
    for base in document.iter("base"):
        href = (base.get("href") or "").strip()
        if href.lower().startswith(("http://", "https://")):
            return href
    return ""


def page_language(document: lxml.html.HtmlElement) -> str:
    """The page's language: `<html lang>` (or xml:lang), else a Content-Language <meta>."""
    root = document.getroottree().getroot()
    tag = (
        root.get("lang")
        or root.get("xml:lang")
        or root.get("{http://www.w3.org/XML/1998/namespace}lang")
    )
    if not tag:
        meta = document.xpath(
            '//meta[translate(@http-equiv, "CONTENTLAGU", "contentlagu")'
            '="content-language"]/@content'
        )
        tag = meta[0] if meta else ""
    return tag.split(",")[0].strip()[:35]


def coverage(raws: list[RawItem]) -> dict[str, int]:
    """How many items each field's selectors found a value in (for reports and previews)."""
    return {name: sum(name in raw.found for raw in raws) for name in FIELDS}


def parse_html(
    body: bytes | str, encoding: str | None = None, *, keep_scripts: bool = False
) -> lxml.html.HtmlElement:
    """Parse leniently whatever the bytes are; scripts and styles are dropped so their text
    never leaks into items (kept only to read JSON-LD, which is data), and comments and
    processing instructions too, so every node below is an element with text."""
    if isinstance(body, bytes) and encoding:
        body = body.decode(encoding, errors="replace")
    if isinstance(body, str):
        body = CONTROL_CHARACTERS.sub("", XML_DECLARATION.sub("", body, count=1))
    elif not body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # lxml sniffs these
        body = CONTROL_BYTES.sub(b"", body)
    if not body or not body.strip():
        raise ExtractError("the page is empty")
    try:
        document = lxml.html.document_fromstring(body)
    except (etree.LxmlError, ValueError) as exc:
        raise ExtractError(f"not parseable as HTML ({exc})") from None
    unwanted = [etree.Comment, etree.ProcessingInstruction]
    etree.strip_elements(document, *unwanted, with_tail=False)
    if not keep_scripts:
        for element in document.xpath("//script | //style | //template"):
            if element.getparent() is not None:  # a page that is one <style> keeps it
                element.drop_tree()
    return document


Read = Callable[[lxml.html.HtmlElement], str]


def _item(
    position: int, element: lxml.html.HtmlElement, selectors: Selectors, id_chain: Chain
) -> RawItem:
    values = {
        "title": _first_value(element, selectors.title, _text),
        "link": _first_value(element, selectors.link, _href),
        "type": _first_value(element, selectors.type, _text),
        "date": _first_value(element, selectors.date, _date_text),
        "summary": _first_value(element, selectors.summary, _inner_html),
        "author": _first_value(element, selectors.author, _text),
    }
    image_src, image_element = "", None
    for selector in selectors.image:
        target = _target(element, selector)
        if target is None:
            continue
        image_src = _value(target, selector, image_source)
        if image_src:
            image_element = target
            break
    alt, title = image_caption(image_element) if image_element is not None else ("", "")
    date_text, date_selector = values["date"]
    found = {name for name, (value, _) in values.items() if value} | (
        {"image"} if image_src else set()
    )
    return RawItem(
        position=position,
        title=values["title"][0],
        link=values["link"][0],
        type_label=values["type"][0],
        date_text=date_text,
        summary_html=values["summary"][0],
        image_src=image_src,
        image_alt=alt,
        image_title=title,
        author=values["author"][0],
        date_formats=date_selector.formats if date_selector else (),
        item_id=_first_value(element, id_chain, _text)[0],
        found=frozenset(found),
        text=" ".join(" ".join(element.itertext()).split())[:ITEM_TEXT_CHARS],
    )


def _first_value(
    element: lxml.html.HtmlElement, chain: Chain, read: Read
) -> tuple[str, Selector | None]:
    """The value of the first selector in the chain that yields one, and that selector."""
    for selector in chain:
        target = _target(element, selector)
        if target is not None and (value := _value(target, selector, read)):
            return value, selector
    return "", None


def _target(element: lxml.html.HtmlElement, selector: Selector) -> lxml.html.HtmlElement | None:
    """The element a selector points at inside the item; no `css`: the item itself, or with
    `following` its run (the text and elements after it up to the next item)."""
    if selector.preceding:  # <h2 class="date">…</h2> over a group of posts
        return preceding_match(element, selector.css or "*")
    if selector.following:  # <dt>item</dt><dd>its date</dd>: the siblings up to the next item
        if selector.css is None:  # <a>Title</a><br>12 March 2024<br>Summary<br><a>…
            return following_run(element)
        for sibling in element.itersiblings():
            if sibling.tag == element.tag:
                break
            if isinstance(sibling.tag, str) and (found := sibling.cssselect(selector.css)):
                return found[0]
        return None
    if selector.css is None:
        return element
    found = element.cssselect(selector.css)
    return found[0] if found else None


RUN = "feedsvc-run"  # the tag of a run's holder: no element of the page


def following_run(element: lxml.html.HtmlElement) -> lxml.html.HtmlElement:
    """A holder of copies of what follows the item up to the next element of its tag: its
    tail text, the siblings and their tails (the lines of a `<br>`-separated list)."""
    run = lxml.html.Element(RUN)
    run.text = element.tail
    for sibling in element.itersiblings():
        if sibling.tag == element.tag:
            break
        run.append(copy.deepcopy(sibling))  # with its tail: the text up to the next sibling
    return run


def preceding_match(element: lxml.html.HtmlElement, css: str) -> lxml.html.HtmlElement | None:
    """The nearest element before the item that matches `css`: in its earlier siblings,
    then its ancestors' earlier siblings (a day heading before a group of posts)."""
    matches = _compiled(css)
    for node in [element, *element.iterancestors()]:
        if node.tag in ("body", "html"):
            break
        for sibling in node.itersiblings(preceding=True):
            if isinstance(sibling.tag, str) and (found := matches(sibling)):
                return found[-1]
    return None


@functools.lru_cache(maxsize=64)
def _compiled(css: str) -> CSSSelector:
    return CSSSelector(css, translator="html")


def _value(target: lxml.html.HtmlElement, selector: Selector, read: Read) -> str:
    """An attribute or what `read` takes from the element (minus `exclude`), then `pattern`."""
    if selector.exclude:
        target = copy.deepcopy(target)
        for unwanted in target.cssselect(selector.exclude):
            if unwanted is not target:  # CSS matches the element itself too
                unwanted.drop_tree()
    value = target.get(selector.attr) or "" if selector.attr else read(target)
    if selector.line:  # one line of a `<br>`-separated text: its words, no markup
        lines = text_lines(target)
        value = lines[selector.line - 1] if len(lines) >= selector.line else ""
        value = html.escape(value, quote=False) if read is _inner_html else value
    if selector.pattern:
        match = re.search(selector.pattern, value)
        value = (match.group(1) if match.groups() else match.group(0)) if match else ""
    return value.strip()


def text_lines(element: lxml.html.HtmlElement) -> list[str]:
    """The element's text split at its `<br>`s, spaces collapsed, empty lines left out
    (`<br><br>` between two entries is no line)."""
    lines: list[list[str]] = [[]]
    for event, node in etree.iterwalk(element, events=("start", "end")):
        if event == "start" and node.tag == "br":
            lines.append([])
        elif event == "start":
            lines[-1].append(node.text or "")
        elif node is not element:
            lines[-1].append(node.tail or "")
    joined = (" ".join("".join(parts).split()) for parts in lines)
    return [line for line in joined if line]


def _text(element: lxml.html.HtmlElement) -> str:
    return element.text_content()


def _date_text(element: lxml.html.HtmlElement) -> str:
    """A <time datetime> (or a `content` attribute) is more exact than the text, so it wins."""
    time = element if element.tag == "time" else next(iter(element.iter("time")), None)
    if time is not None and time.get("datetime"):
        return time.get("datetime")
    return element.get("content") or element.text_content()


def _href(element: lxml.html.HtmlElement) -> str:
    if element.get("href") is None:
        element = next((a for a in element.iter("a") if a.get("href")), None)
    return (element.get("href") or "").strip() if element is not None else ""


def _inner_html(element: lxml.html.HtmlElement) -> str:
    inner = html.escape(element.text or "", quote=False)  # text, not markup: "&lt;b&gt;" stays
    # HTML serialisation: XML's <iframe/> would swallow the rest of the fragment as its text.
    return inner + "".join(
        etree.tostring(child, encoding="unicode", method="html") for child in element
    )
