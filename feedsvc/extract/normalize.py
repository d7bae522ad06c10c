"""Turn a raw item into a clean Item: absolute links, identity, dates, type, safe text. Pure."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import nh3
from slugify import slugify

from feedsvc.config import SourceConfig
from feedsvc.extract.dates import ParsedDate, page_years, parse_date
from feedsvc.extract.listing import RawItem
from feedsvc.model import Item

MAX_TITLE_CHARS = 300
MAX_SUMMARY_CHARS = 2_000
MAX_SUMMARY_HTML_CHARS = 8_000
MAX_CAPTION_CHARS = 600
MAX_AUTHOR_CHARS = 200
BYLINE = re.compile(r"^\s*by\s+", re.IGNORECASE)
OTHER_TYPE = ("other", "Other")
SUMMARY_TAGS = {
    "a",
    "abbr",
    "b",
    "br",
    "cite",
    "code",
    "em",
    "i",
    "li",
    "ol",
    "p",
    "q",
    "strong",
    "sub",
    "sup",
    "ul",
}
TRACKING_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid)$", re.IGNORECASE)
# Characters XML 1.0 forbids; feedgen refuses them and readers reject feeds containing them.
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
PHOTO_CREDIT = re.compile(
    r"(?:^|[,.;]\s*|\s)(?:photos?|images?|illustration|graphic)\s+by\s+(?P<credit>.+?)\s*$",
    re.IGNORECASE,
)


class NormalizeError(Exception):
    """An item that cannot become a feed entry (no title, no usable link)."""

    def __init__(self, position: int, reason: str) -> None:
        super().__init__(f"normalize: item {position}: {reason}")
        self.reason = reason


class Excluded(NormalizeError):
    """An item the source's `link_pattern`, `include` or `exclude` keeps out: not a fault."""


@dataclass(frozen=True)
class Context:
    """What normalizing needs besides the item: where it was found and the source's rules."""

    page_url: str
    source: SourceConfig
    type_labels: dict[str, str]
    now: datetime
    years: Mapping[int, int] = field(default_factory=dict)  # by position: page_years


def with_page_years(raws: list[RawItem], context: Context) -> Context:
    """The context with the year its page makes certain for each day printed without one
    ("Mar 14"), by the item's position: discover, preview and ingest read pages alike."""
    readings = [_date(raw, context) for raw in raws]
    found = page_years(readings, context.now)
    return replace(context, years={raws[index].position: year for index, year in found.items()})


def _date(raw: RawItem, context: Context) -> ParsedDate:
    languages = context.source.languages or ((raw.language,) if raw.language else ())
    return parse_date(
        raw.date_text,
        context.source.timezone,
        context.now,
        raw.date_formats,
        languages,
        context.years.get(raw.position),
    )


def normalize(raw: RawItem, context: Context) -> Item:
    """Clean one raw item; raises NormalizeError for an item no feed could carry."""
    title = clean_text(raw.title, MAX_TITLE_CHARS)
    source = context.source
    if not title:
        raise NormalizeError(raw.position, f"no title{_saw(raw, source, 'title')}")
    link = canonical_link(raw.link, context.page_url)
    if link is None:
        found = f" (found {raw.link[:80]!r})" if raw.link else ""
        raise NormalizeError(
            raw.position, f"no usable http(s) link{found}{_saw(raw, source, 'link')}"
        )
    if source.link_pattern and not source.link_pattern.search(link):
        raise Excluded(raw.position, f"link {link} does not match link_pattern")
    _check_wanted(raw, source)
    summary_html = sanitize_html(raw.summary_html, context.page_url)
    type_slug, type_label = classify(raw.type_label, link, context, raw.categories)
    image_url = (
        canonical_link(raw.image_src, context.page_url, keep_query=True) if raw.image_src else None
    )
    caption = image_caption(raw.image_alt, raw.image_title) if image_url else None
    date = _date(raw, context)
    return Item(
        guid=item_guid(link, raw.item_id),
        link=link,
        title=title,
        summary_html=summary_html,
        summary_text=clean_text(
            html.unescape(nh3.clean(summary_html, tags=set())), MAX_SUMMARY_CHARS
        ),
        type_slug=type_slug,
        type_label=type_label,
        published=date.value,
        image_url=image_url,
        image_caption=caption,
        image_credit=photo_credit(caption),
        author=clean_text(BYLINE.sub("", raw.author), MAX_AUTHOR_CHARS).rstrip(",") or None,
        position=raw.position,
        date_day_only=date.day_only,
        date_problem=date.problem,
    )


def _saw(raw: RawItem, source: SourceConfig, key: str) -> str:
    """Which selector missed and what the item held, so the operator sees what it saw."""
    if source.kind == "feed":
        return ""
    return f'; {key} selector "{source.selectors.described(key)}"; the item reads: "{raw.text}"'


def _check_wanted(raw: RawItem, source: SourceConfig) -> None:
    """`include`/`exclude` regexes over title, summary and categories pick a topic's items."""
    if source.include is None and source.exclude is None:
        return
    text = "\n".join([raw.title, html.unescape(nh3.clean(raw.summary_html, tags=set()))])
    text += "\n" + "\n".join(raw.categories)
    if source.include is not None and not source.include.search(text):
        raise Excluded(raw.position, "does not match include")
    if source.exclude is not None and source.exclude.search(text):
        raise Excluded(raw.position, "matches exclude")


def item_guid(link: str, item_id: str) -> str:
    """The canonical link; with an `id` selector, the link plus that value (a series page
    linking every episode), stable across runs."""
    item_id = " ".join(item_id.split())
    return f"{link}#{slugify(item_id) or item_id}" if item_id else link


def image_caption(alt: str, title: str) -> str | None:
    """The alt text, or the title attribute when it is longer or holds the photo credit."""
    alt, title = clean_text(alt, MAX_CAPTION_CHARS), clean_text(title, MAX_CAPTION_CHARS)
    if title and (len(title) > len(alt) or (photo_credit(title) and not photo_credit(alt))):
        return title
    return alt or None


def merge_copies(first: Item, other: Item) -> Item:
    """One item from two copies of the same link on a page: the most complete fields of both."""
    fields = {}
    if len(other.summary_html) > len(first.summary_html):
        fields.update(summary_html=other.summary_html, summary_text=other.summary_text)
    if first.published is None and other.published is not None:
        fields.update(
            published=other.published,
            date_day_only=other.date_day_only,
            date_problem=other.date_problem,
        )
    if first.image_url is None and other.image_url is not None:
        fields.update(
            image_url=other.image_url,
            image_caption=other.image_caption,
            image_credit=other.image_credit,
        )
    if first.type_slug == OTHER_TYPE[0] and other.type_slug != OTHER_TYPE[0]:
        fields.update(type_slug=other.type_slug, type_label=other.type_label)
    if first.author is None and other.author is not None:
        fields.update(author=other.author)
    return replace(first, **fields) if fields else first


def clean_text(text: str, limit: int) -> str:
    """Collapse whitespace, drop XML-illegal characters and cut to `limit` characters."""
    text = " ".join(XML_ILLEGAL.sub("", text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def canonical_link(href: str, page_url: str, *, keep_query: bool = False) -> str | None:
    """An absolute http(s) URL with no fragment and no tracking parameters, or None."""
    href = XML_ILLEGAL.sub("", href).strip()
    if not href:
        return None
    try:
        parts = urlsplit(urljoin(page_url, href))
        port = parts.port
    except ValueError:  # "http://[::1", "http://host:99999/": not a link anyone can follow
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    query = parts.query
    if not keep_query:
        query = urlencode(
            [(k, v) for k, v in parse_qsl(query, True) if not TRACKING_PARAMS.match(k)]
        )
    netloc = parts.hostname.lower() + (f":{port}" if port not in (None, 80, 443) else "")
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", query, ""))


def sanitize_html(fragment: str, page_url: str) -> str:
    """Keep harmless inline markup with absolute links; drop scripts, styles and handlers."""
    if not fragment.strip():
        return ""

    def absolute_links(tag: str, attribute: str, value: str) -> str | None:
        return canonical_link(value, page_url, keep_query=True) if attribute == "href" else value

    cleaned = nh3.clean(
        XML_ILLEGAL.sub("", fragment),
        tags=SUMMARY_TAGS,
        attributes={"a": {"href", "title"}, "abbr": {"title"}},
        url_schemes={"http", "https", "mailto"},
        attribute_filter=absolute_links,
        link_rel="noopener noreferrer",
    )
    cleaned = XML_ILLEGAL.sub("", cleaned).strip()  # nor may a character reference bring one
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > MAX_SUMMARY_HTML_CHARS:
        return html.escape(
            clean_text(html.unescape(nh3.clean(cleaned, tags=set())), MAX_SUMMARY_CHARS)
        )
    return cleaned


def classify(
    label: str, link: str, context: Context, categories: tuple[str, ...] = ()
) -> tuple[str, str]:
    """(slug, display label): the source's `type_map` first, then the page's own label (or a
    feed entry's first category), then the source's link-path rules, else "other"."""
    type_map = context.source.type_map
    labels = [clean_text(text, 80) for text in (label, *categories)]
    for text in labels:
        mapped = type_map.get(text, type_map.get(slugify(text)))
        if mapped:
            return mapped, context.type_labels.get(mapped, _label_of(mapped))
    for text in labels:
        if slugify(text) and type_map.get(text, type_map.get(slugify(text))) != "":
            return slugify(text), text
    path = urlsplit(link).path
    for rule in context.source.type_rules:
        if path.startswith(rule.path_prefix):
            return rule.type, context.type_labels.get(rule.type, _label_of(rule.type))
    return OTHER_TYPE


def _label_of(slug: str) -> str:
    return slug.replace("-", " ").title()


def photo_credit(caption: str | None) -> str | None:
    """The "photo by ..." part of a caption, as the site writes its image credits."""
    match = PHOTO_CREDIT.search(caption or "")
    return match.group("credit").rstrip(".") if match else None
