"""`[[custom_feeds]]`: feeds an operator filters out of every topic by words, "phrases" and
/regex/, each an error naming the file and the key when it cannot be read. Pure.

A term matches the item's title, summary, full text and author together: a word or a
"phrase" case-insensitively on word boundaries, a /regex/ as written (Python syntax).
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

import nh3
from slugify import slugify

from feedsvc.config.sources import ConfigError
from feedsvc.config.table import Table

MAX_TERMS = 100  # per include or exclude list
MAX_TERM_CHARS = 200


@dataclass(frozen=True)
class CustomFeed:
    """A filtered feed: the items of `topics` (all when empty) and `types` (all when empty)
    that match any `include` term (all when empty) and no `exclude` term."""

    slug: str
    title: str
    topics: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_include", tuple(_pattern(t) for t in self.include))
        object.__setattr__(self, "_exclude", tuple(_pattern(t) for t in self.exclude))

    def matches(self, topic: str, type_slug: str, text: str) -> bool:
        """Whether an item of this topic and type, whose searchable text is `text`, belongs."""
        if self.topics and topic not in self.topics:
            return False
        if self.types and type_slug not in self.types:
            return False
        include: tuple[re.Pattern[str], ...] = self._include  # type: ignore[attr-defined]
        exclude: tuple[re.Pattern[str], ...] = self._exclude  # type: ignore[attr-defined]
        if include and not any(p.search(text) for p in include):
            return False
        return not any(p.search(text) for p in exclude)

    @property
    def definition(self) -> str:
        """A fingerprint of what selects the feed's items: a change re-filters the store."""
        selecting = [self.topics, self.types, self.include, self.exclude]
        return hashlib.sha256(json.dumps(selecting).encode()).hexdigest()[:32]


def _pattern(term: str) -> re.Pattern[str]:
    """A term as a regular expression: /regex/ as written, a "phrase" or a word on word
    boundaries and case-insensitive."""
    if len(term) > 2 and term.startswith("/") and term.endswith("/"):
        return re.compile(term[1:-1])
    words = term.strip('"').split()
    return re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, words)) + r"(?!\w)", re.IGNORECASE)


def parse_custom_feeds(tables: list[Table], topics: set[str], path: Path) -> tuple[CustomFeed, ...]:
    """Every [[custom_feeds]] table, validated; slugs are unique and topics known."""
    feeds = []
    for table in tables:
        table.only("slug", "title", "description", "topics", "types", "include", "exclude")
        slug = table.string("slug", required=True)
        if slugify(slug) != slug:
            raise ConfigError(path, table.key("slug"), f'expected a slug such as "{slugify(slug)}"')
        if slug in {feed.slug for feed in feeds}:
            raise ConfigError(path, table.key("slug"), f'duplicate custom feed slug "{slug}"')
        unknown = [t for t in _strings(table, "topics") if t not in topics]
        if unknown:
            raise ConfigError(
                path, table.key("topics"), f'unknown topic "{unknown[0]}"; known: {sorted(topics)}'
            )
        feeds.append(
            CustomFeed(
                slug=slug,
                title=table.string("title", required=True),
                description=table.string("description", ""),
                topics=_strings(table, "topics"),
                types=_strings(table, "types"),
                include=_terms(table, "include"),
                exclude=_terms(table, "exclude"),
            )
        )
    return tuple(feeds)


def _strings(table: Table, name: str) -> tuple[str, ...]:
    values = table.data.get(name, [])
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise ConfigError(table.path, table.key(name), "expected an array of non-empty strings")
    return tuple(values)


def _terms(table: Table, name: str) -> tuple[str, ...]:
    """Words, "phrases" or /regex/, each readable and bounded."""
    terms = _strings(table, name)
    if len(terms) > MAX_TERMS:
        raise ConfigError(table.path, table.key(name), f"at most {MAX_TERMS} terms")
    for index, term in enumerate(terms):
        key = f"{table.key(name)}[{index}]"
        if len(term) > MAX_TERM_CHARS:
            raise ConfigError(table.path, key, f"at most {MAX_TERM_CHARS} characters")
        if term.startswith('"') != term.endswith('"') or term == '"':
            raise ConfigError(table.path, key, f"unbalanced quote in {term!r}")
        try:
            _pattern(term)
        except re.error as exc:
            raise ConfigError(table.path, key, f"not a regular expression: {exc}") from None
    return terms


def searchable_text(title: str, summary: str, full_html: str | None, author: str | None) -> str:
    """What filters and searches read of an item: its title, summary, full text and author."""
    full = nh3.clean(full_html, tags=set()) if full_html else ""
    return "\n".join(part for part in (title, summary, html.unescape(full), author or "") if part)
