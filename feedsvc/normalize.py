"""Turn a raw item into a clean Item: absolute links, identity, dates, type, safe text. Pure."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import nh3
from dateutil import parser as date_parser
from slugify import slugify

from feedsvc.config import SourceConfig
from feedsvc.extract import RawItem
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
# JavaScript's Date.toString(): "... 20:00:00 GMT-0400 (EDT)". dateutil reads "GMT-0400" with
# the POSIX sign (as +04:00); without "GMT" the offset means what JavaScript meant.
JS_DATE_OFFSET = re.compile(r"\bGMT([+-]\d{4})\b(?:\s*\([^)]*\))?")
PHOTO_CREDIT = re.compile(
    r"(?:^|[,.;]\s*|\s)(?:photos?|images?|illustration|graphic)\s+by\s+(?P<credit>.+?)\s*$",
    re.IGNORECASE,
)


class NormalizeError(Exception):
    """An item that cannot become a feed entry (no title, no usable link)."""

    def __init__(self, position: int, reason: str) -> None:
        super().__init__(f"normalize: item {position}: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class Context:
    """What normalizing needs besides the item: where it was found and the source's rules."""

    page_url: str
    source: SourceConfig
    type_labels: dict[str, str]
    now: datetime


def normalize(raw: RawItem, context: Context) -> Item:
    """Clean one raw item; raises NormalizeError for an item no feed could carry."""
    title = clean_text(raw.title, MAX_TITLE_CHARS)
    if not title:
        raise NormalizeError(raw.position, "no title")
    link = canonical_link(raw.link, context.page_url)
    if link is None:
        raise NormalizeError(raw.position, f"no usable http(s) link (found {raw.link[:80]!r})")
    summary_html = sanitize_html(raw.summary_html, context.page_url)
    type_slug, type_label = classify(raw.type_label, link, context)
    image_url = (
        canonical_link(raw.image_src, context.page_url, keep_query=True) if raw.image_src else None
    )
    caption = clean_text(raw.image_alt, MAX_CAPTION_CHARS) or None if image_url else None
    return Item(
        guid=link,
        link=link,
        title=title,
        summary_html=summary_html,
        summary_text=clean_text(
            html.unescape(nh3.clean(summary_html, tags=set())), MAX_SUMMARY_CHARS
        ),
        type_slug=type_slug,
        type_label=type_label,
        published=parse_date(raw.date_text, context),
        image_url=image_url,
        image_caption=caption,
        image_credit=photo_credit(caption),
        author=clean_text(BYLINE.sub("", raw.author), MAX_AUTHOR_CHARS) or None,
        position=raw.position,
    )


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


def classify(label: str, link: str, context: Context) -> tuple[str, str]:
    """(slug, display label): the page's own label first, then the source's link-path rules."""
    label = clean_text(label, 80)
    slug = slugify(label)
    if slug:
        return slug, label
    path = urlsplit(link).path
    for rule in context.source.type_rules:
        if path.startswith(rule.path_prefix):
            return rule.type, context.type_labels.get(
                rule.type, rule.type.replace("-", " ").title()
            )
    return OTHER_TYPE


def parse_date(text: str, context: Context) -> datetime | None:
    """Aware UTC; a naive date is in the source's time zone; None when absent or absurd."""
    text = JS_DATE_OFFSET.sub(r"\1", clean_text(text, 100))
    if not text:
        return None
    try:
        parsed = date_parser.parse(text)
    except (ValueError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=context.source.timezone)
    parsed = parsed.astimezone(UTC)
    if parsed.year < 1990 or parsed > context.now:
        return None
    return parsed


def photo_credit(caption: str | None) -> str | None:
    """The "photo by ..." part of a caption, as the site writes its image credits."""
    match = PHOTO_CREDIT.search(caption or "")
    return match.group("credit").rstrip(".") if match else None
