"""Extract raw items from a JSON document (`kind = "json"`) with JMESPath selectors. Pure.

`item` is evaluated on the document and yields the list of items; every field selector is
evaluated on one item. The document is the response itself (a WordPress `wp-json` list, a
headless CMS's answer) or JSON held in an HTML page (`json = "script#__NEXT_DATA__"`, or
`script[type="application/ld+json"]` for a schema.org ItemList): each matching element is
one document, their items in page order. Strings in JSON are often HTML-escaped
(`title.rendered` holds `&#8211;`): text fields are read as text, `summary` stays HTML.
"""

from __future__ import annotations

import functools
import html
import json
import re
from typing import Any

import jmespath
import jmespath.exceptions
import jmespath.parser
import lxml.html

from feedsvc.config.sources import Chain, Selectors
from feedsvc.extract.listing import ITEM_TEXT_CHARS, ExtractError, RawItem, parse_html

TEXT_FIELDS = ("title", "type", "date", "author")  # links and summaries stay as written
MARKUP = re.compile(r"[<&]")


def json_items(
    body: bytes | str,
    selectors: Selectors,
    encoding: str | None = None,
    id_chain: Chain = (),
    embedded: str | None = None,
) -> list[RawItem]:
    """The items of a JSON document, or of the JSON an HTML page holds at CSS `embedded`."""
    items: list[Any] = []
    for document in documents(body, encoding, embedded):
        found = _search(selectors.item, document)
        if isinstance(found, list):
            items += [item for item in found if item is not None]
        elif found is not None:
            items.append(found)
    return [_item(position, item, selectors, id_chain) for position, item in enumerate(items)]


def documents(body: bytes | str, encoding: str | None, embedded: str | None) -> list[Any]:
    """The JSON documents to read: the body itself, or each element `embedded` matches."""
    if embedded is None:
        text = (
            body.decode(encoding or "utf-8", errors="replace") if isinstance(body, bytes) else body
        )
        return [_parsed(text, "the document")]
    page = parse_html(body, encoding, keep_scripts=True)
    elements = page.cssselect(embedded)
    if not elements:
        raise ExtractError(f'no element matched json = "{embedded}"')
    return [_parsed(element.text_content(), f'"{embedded}"') for element in elements]


def _parsed(text: str, what: str) -> Any:
    try:
        return json.loads(text.strip().removeprefix("<!--").removesuffix("-->"))
    except ValueError as exc:
        raise ExtractError(f"{what} is not valid JSON ({exc})") from None


@functools.lru_cache(maxsize=512)
def _compiled(expression: str) -> jmespath.parser.ParsedResult:
    return jmespath.compile(expression)


def _search(expression: str, value: Any) -> Any:
    try:
        return _compiled(expression).search(value)
    except jmespath.exceptions.JMESPathError as exc:  # a type error on this item's data
        raise ExtractError(f"JMESPath {expression!r}: {' '.join(str(exc).split())}") from None


def _item(position: int, item: Any, selectors: Selectors, id_chain: Chain) -> RawItem:
    values: dict[str, str] = {}
    formats: tuple[str, ...] = ()
    for key in ("title", "link", "type", "date", "summary", "image", "author"):
        for selector in getattr(selectors, key):
            found = _scalar(_search(selector.css, item) if selector.css else item)
            if found and selector.pattern:
                match = re.search(selector.pattern, found)
                found = (match.group(1) if match.groups() else match.group(0)) if match else ""
            if found:
                values[key] = _text(found) if key in TEXT_FIELDS else found
                formats = selector.formats if key == "date" else formats
                break
    item_id = next(
        (v for s in id_chain if (v := _scalar(_search(s.css, item) if s.css else item))), ""
    )
    return RawItem(
        position=position,
        title=values.get("title", ""),
        link=values.get("link", ""),
        type_label=values.get("type", ""),
        date_text=values.get("date", ""),
        summary_html=values.get("summary", ""),
        image_src=values.get("image", ""),
        author=values.get("author", ""),
        date_formats=formats,
        item_id=item_id,
        found=frozenset(values),
        text=" ".join(json.dumps(item, ensure_ascii=False).split())[:ITEM_TEXT_CHARS],
    )


def _scalar(value: Any) -> str:
    """A JSON value as one string: a scalar as written, a list by its first such value."""
    if isinstance(value, list):
        return next((text for part in value if (text := _scalar(part))), "")
    if isinstance(value, bool) or value is None or isinstance(value, dict):
        return ""
    return str(value).strip()


def _text(value: str) -> str:
    """Escaped or marked-up text (`Who &#8211; <em>Why</em>`) as plain text."""
    if not MARKUP.search(value):
        return value
    if "<" not in value:
        return html.unescape(value)
    return lxml.html.fragment_fromstring(value, create_parent="div").text_content().strip()
