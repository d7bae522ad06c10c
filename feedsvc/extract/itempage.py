"""What an item's own page says about it (JSON-LD, OpenGraph, citation_*, the institute's
rand-* meta) and how that fills what the listing lacked. Pure: page in, fields out."""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, replace

import lxml.html

from feedsvc.extract.dates import ParsedDate, parse_date
from feedsvc.extract.listing import ExtractError, parse_html
from feedsvc.extract.normalize import (
    MAX_AUTHOR_CHARS,
    MAX_CAPTION_CHARS,
    MAX_SUMMARY_CHARS,
    OTHER_TYPE,
    Context,
    Item,
    canonical_link,
    classify,
    clean_text,
    photo_credit,
)

ARTICLE_TYPES = {
    "Article",
    "NewsArticle",
    "BlogPosting",
    "Report",
    "ScholarlyArticle",
    "TechArticle",
    "AnalysisNewsArticle",
}
DATE_META = ("article:published_time", "citation_publication_date", "citation_date", "rand-date")


@dataclass(frozen=True)
class PageMetadata:
    """The fields an item page declares about itself, as text (nothing parsed yet)."""

    date_text: str = ""
    author: str = ""
    image: str = ""
    image_caption: str = ""
    description: str = ""
    type_label: str = ""


def page_metadata(body: bytes, encoding: str | None) -> PageMetadata:
    """JSON-LD first (the most exact), then meta tags; scripts are read, never run."""
    try:
        document = parse_html(body, encoding or "utf-8", keep_scripts=True)
    except ExtractError:
        return PageMetadata()
    ld = _json_ld_article(document)
    meta = _meta(document)
    authors = (
        _names(ld.get("author"))
        or meta.get("citation_author", [])
        or _names(meta.get("article:author", []))
    )
    image = _image(ld.get("image")) or _first(meta, "og:image")
    return PageMetadata(
        date_text=str(ld.get("datePublished") or "")
        or next((_first(meta, key) for key in DATE_META if _first(meta, key)), ""),
        author=", ".join(authors),
        image=image,
        image_caption=_first(meta, "og:image:alt"),
        description=str(ld.get("description") or "")
        or _first(meta, "og:description")
        or _first(meta, "citation_abstract")
        or _first(meta, "description"),
        type_label=_first(meta, "rand-content-type"),
    )


def to_json(found: PageMetadata, page_url: str) -> str:
    """What a page gave, as kept in the store beside the item."""
    return json.dumps({"page_url": page_url, **asdict(found)}, ensure_ascii=False)


def from_json(text: str) -> tuple[PageMetadata, str]:
    """(metadata, page URL) back from `to_json`."""
    data = json.loads(text)
    page_url = data.pop("page_url")
    return PageMetadata(**data), page_url


def enriched(item: Item, found: PageMetadata, page_url: str, context: Context) -> Item:
    """The item with what its page adds: empty fields filled, a day-only date made exact.
    A value the listing's selectors gave is kept unless it is less precise."""
    fields: dict = {}
    date = parse_date(found.date_text, context.source.timezone, context.now)
    if date.value and _more_precise(date, item):
        fields.update(published=date.value, date_day_only=date.day_only, date_problem=None)
    if not item.summary_text and found.description:
        text = clean_text(html.unescape(found.description), MAX_SUMMARY_CHARS)
        fields.update(summary_html=html.escape(text, quote=False), summary_text=text)
    image = canonical_link(found.image, page_url, keep_query=True) if found.image else None
    if item.image_url is None and image:
        caption = clean_text(found.image_caption, MAX_CAPTION_CHARS) or None
        fields.update(image_url=image, image_caption=caption, image_credit=photo_credit(caption))
    if item.author is None and found.author:
        fields.update(author=clean_text(found.author, MAX_AUTHOR_CHARS))
    if item.type_slug == OTHER_TYPE[0] and found.type_label:
        type_slug, type_label = classify(found.type_label, "", context)
        fields.update(type_slug=type_slug, type_label=type_label)
    return replace(item, **fields) if fields else item


def _more_precise(date: ParsedDate, item: Item) -> bool:
    if item.published is None:
        return True
    return item.date_day_only and not date.day_only


def _json_ld_article(document: lxml.html.HtmlElement) -> dict:
    """The first JSON-LD object typed as an article or report, through lists and @graph."""
    for script in document.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text_content())
        except (ValueError, RecursionError):  # broken, or nested deeper than Python recurses
            continue
        stack = [data]
        while stack:
            node = stack.pop(0)
            if isinstance(node, list):
                stack.extend(node)
            elif isinstance(node, dict):
                kinds = node.get("@type")
                kinds = set(kinds) if isinstance(kinds, list) else {kinds}
                if kinds & ARTICLE_TYPES:
                    return node
                stack.extend(node.get("@graph", []))
    return {}


def _meta(document: lxml.html.HtmlElement) -> dict[str, list[str]]:
    """<meta property|name=... content=...>, every value per name in page order."""
    found: dict[str, list[str]] = {}
    for meta in document.iter("meta"):
        name = (meta.get("property") or meta.get("name") or "").strip().lower()
        content = (meta.get("content") or "").strip()
        if name and content:
            found.setdefault(name, []).append(content)
    return found


def _first(meta: dict[str, list[str]], name: str) -> str:
    return meta.get(name, [""])[0]


def _names(value: object) -> list[str]:
    """schema.org authors: a name, a Person, or a list of either."""
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, dict):
        return _names(value.get("name"))
    if isinstance(value, list):
        return [name for part in value for name in _names(part)]
    return []


def _image(value: object) -> str:
    """schema.org image: a URL, an ImageObject, or a list of either (the first)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return _image(value.get("url") or value.get("contentUrl"))
    if isinstance(value, list) and value:
        return _image(value[0])
    return ""
