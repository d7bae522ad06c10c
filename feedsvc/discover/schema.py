"""The items a page names in schema.org data, as evidence of which list is its list; pure.

Sites that mark their posts up for search engines say which links are items: JSON-LD
`ItemList` elements and `Article`s, or microdata (`itemscope itemtype=".../BlogPosting"`
with an `itemprop="url"` or a linked `itemprop="headline"`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import urljoin

import lxml.html

from feedsvc.extract.listing import parse_html

ITEM_TYPES = {
    "ListItem", "Article", "NewsArticle", "BlogPosting", "Report", "ScholarlyArticle",
    "TechArticle", "Event", "JobPosting", "Product", "CreativeWork", "DiscussionForumPosting",
}  # fmt: skip
URL_PROPERTIES = ("url", "mainEntityOfPage", "headline", "name")  # in the order they say it best


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
            if kinds & ITEM_TYPES:
                item = node.get("item")
                url = node.get("url") or (item.get("url") if isinstance(item, dict) else item)
                if isinstance(url, str):
                    links.add(_absolute(page_url, url))
    return links - {""}


def microdata_links(document: lxml.html.HtmlElement, page_url: str) -> set[str]:
    """Item URLs named by schema.org microdata: each item scope of an item type, its
    `itemprop="url"` (an `<a href>`, `<link href>` or `<meta content>`), else the link of
    its headline or name."""
    links: set[str] = set()
    for scope in document.xpath("//*[@itemscope][@itemtype]"):
        kinds = {t.rstrip("/").rsplit("/", 1)[-1] for t in scope.get("itemtype", "").split()}
        if not kinds & ITEM_TYPES:
            continue
        for prop in URL_PROPERTIES:
            url = _property_url(scope, prop)
            if url:
                links.add(_absolute(page_url, url))
                break
    return links - {""}


def _property_url(scope: lxml.html.HtmlElement, prop: str) -> str:
    """The address an item property gives: its href or content, or a link inside it."""
    for element in scope.xpath(f'.//*[contains(concat(" ", @itemprop, " "), " {prop} ")]'):
        if element.get("href") or element.get("content", "").startswith(("http", "/")):
            return (element.get("href") or element.get("content")).strip()
        inner = next((a for a in element.iter("a") if a.get("href")), None)
        if inner is not None:
            return inner.get("href").strip()
    return ""


def _absolute(page_url: str, url: str) -> str:
    try:
        return urljoin(page_url, url.strip()).split("#")[0]
    except ValueError:  # "http://[::1": no address
        return ""


def _nodes(data: object) -> Iterable[dict]:
    """Every JSON object in a JSON-LD document, nested ones included."""
    if isinstance(data, dict):
        yield data
        for value in data.values():
            yield from _nodes(value)
    elif isinstance(data, list):
        for value in data:
            yield from _nodes(value)
