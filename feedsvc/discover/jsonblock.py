"""Propose a `kind = "json"` source block for a JSON document. Pure.

The items are the longest list of objects in the document; each field is the first of the
names APIs commonly use (WordPress, headless CMSs, JSON Feed, schema.org) that holds a
string in most items. The block is checked by the config loader and previewed with the
real extract and normalize, like discover's HTML blocks.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feedsvc.config import SourceConfig, parse
from feedsvc.discover.items import NothingFound
from feedsvc.extract.jsondoc import json_items
from feedsvc.extract.normalize import Context, Item, NormalizeError, normalize

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MIN_ITEMS = 2
PREVIEW_ITEMS = 5
CANDIDATES: dict[str, tuple[str, ...]] = {
    "title": (
        "title.rendered", "title", "headline", "name", "attributes.title", "attributes.headline",
    ),
    "link": ("link", "url", "permalink", "href", "external_url", "attributes.url", "slug",
             "attributes.slug"),
    "type": ("type_label", "category", "section", "format", "kind", "@type"),
    "date": (
        "date_gmt", "date_published", "datePublished", "published_at", "publishedAt",
        "published", "pubDate", "date", "created_at", "attributes.publishedAt",
    ),
    "summary": (
        "excerpt.rendered", "excerpt", "summary", "description", "teaser", "content_html",
        "attributes.teaser", "attributes.summary",
    ),
    "image": ("image.url", "image.src", "image", "thumbnail", "featured_image", "banner_image"),
    "author": ("author.name", "authors[0].name", "byline", "author"),
}  # fmt: skip


@dataclass(frozen=True)
class JsonProposal:
    """The printable block and the items it yields."""

    block: str
    items: list[Item]


def looks_like_json(body: bytes) -> bool:
    """Whether a response body is a JSON document rather than a page."""
    return body.lstrip()[:1] in (b"{", b"[")


def propose_json(body: bytes, url: str) -> JsonProposal:
    """The block for the document's longest list of objects, checked and previewed."""
    document = json.loads(body)
    lists = sorted(object_lists(document, ()), key=lambda found: -len(found[1]))
    if not lists or len(lists[0][1]) < MIN_ITEMS:
        raise NothingFound([f"a list of {MIN_ITEMS} or more objects anywhere in the document"])
    path, items = lists[0]
    fields = {
        key: found for key, names in CANDIDATES.items() if (found := field_path(items, names, key))
    }
    if "title" not in fields or "link" not in fields:
        raise NothingFound(
            [f"{len(items)} objects at {expression(path)}, but no title and link among the "
             f"usual names ({', '.join(CANDIDATES['title'] + CANDIDATES['link'])})"]
        )  # fmt: skip
    lines = ["[[topics.sources]]", f"url = {json.dumps(url)}", 'kind = "json"', ""]
    lines += ["[topics.sources.selectors]", f"item = {json.dumps(expression(path))}"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in fields.items()]
    block = "\n".join(lines) + "\n"
    previewed = _preview(_checked(block), url, body)
    comments = [
        "",
        f"# How these selectors were chosen: {len(items)} objects at {expression(path)}",
        f"# Preview: {len(previewed)} items with a title and a link; the first few:",
    ]
    for number, item in enumerate(previewed[:PREVIEW_ITEMS], 1):
        date = item.published.date().isoformat() if item.published else "no date"
        comments += [f"#   {number}. {item.title}", f"#      {item.link} | {date}"]
    return JsonProposal(block + "\n".join(comments) + "\n", previewed)


def object_lists(value: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], list]]:
    """Every list of objects in the document with its path of keys."""
    if isinstance(value, list):
        objects = [part for part in value if isinstance(part, dict)]
        if objects and len(objects) == len(value):
            yield path, objects
    elif isinstance(value, dict):
        for key, part in value.items():
            yield from object_lists(part, (*path, key))


def expression(path: tuple[str, ...]) -> str:
    """A JMESPath for a path of keys (`@` for the document itself)."""
    if not path:
        return "@"
    return ".".join(key if IDENTIFIER.fullmatch(key) else json.dumps(key) for key in path)


def field_path(items: list[dict], candidates: tuple[str, ...], key: str) -> str | None:
    """The first candidate path holding a string in at least half the items (a date may be
    a number: seconds since 1970)."""
    kinds = (str, int, float) if key == "date" else (str,)
    for candidate in candidates:
        expression = ".".join(
            part if IDENTIFIER.fullmatch(part.split("[")[0]) else json.dumps(part)
            for part in candidate.split(".")
        )
        values = [_value(item, candidate) for item in items]
        present = [v for v in values if isinstance(v, kinds) and str(v).strip()]
        if len(present) * 2 >= len(items):
            return expression
    return None


def _value(item: Any, candidate: str) -> Any:
    for part in candidate.split("."):
        key, _, index = part.partition("[")
        item = item.get(key) if isinstance(item, dict) else None
        if index and isinstance(item, list):
            item = item[int(index.rstrip("]"))] if item else None
    return item


def _checked(block: str) -> SourceConfig:
    source = tomllib.loads(block)["topics"]["sources"][0]
    raw = {
        "service": {"database": "sqlite://", "base_url": "http://127.0.0.1"},
        "topics": [{"slug": "discovered", "title": "Discovered", "sources": [source]}],
    }
    return parse(raw, Path("<discover>")).topics[0].sources[0]


def _preview(source: SourceConfig, url: str, body: bytes) -> list[Item]:
    context = Context(page_url=url, source=source, type_labels={}, now=datetime.now(UTC))
    items: dict[str, Item] = {}
    for raw in json_items(body, source.selectors):
        try:
            item = normalize(raw, context)
        except NormalizeError:
            continue
        items.setdefault(item.guid, item)
    return list(items.values())
