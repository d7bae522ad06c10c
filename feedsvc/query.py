"""The search query language of /search: words ANDed, "phrases", -word, word*, type:slug and
topic:slug; bounded so that no query is made expensive on purpose. Pure.

A query is read once into a `Query`, which says itself as an SQLite FTS5 MATCH expression
and as a PostgreSQL tsquery (the `simple` configuration: no stemming, as FTS5's default
tokenizer), so both stores answer the same words the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_QUERY_CHARS = 200
MAX_TERMS = 8  # words, phrases and exclusions together
MAX_PREFIXES = 2  # word* terms: each reads every indexed word it starts
MIN_PREFIX_CHARS = 3
MAX_PHRASE_WORDS = 6
FILTERS = ("type", "topic")
_PARTS = re.compile(r'(-?)"([^"]*)"|(\S+)')
_WORD = re.compile(r"\w+")
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")


class QueryError(ValueError):
    """A query that cannot be run, and why (the 400's message)."""


@dataclass(frozen=True)
class Term:
    """Words that must appear together in this order (one word: anywhere); `prefix`: the
    last word is a prefix."""

    words: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True)
class Query:
    """A parsed query: what every match must contain and lack, and its filters."""

    include: tuple[Term, ...]
    exclude: tuple[Term, ...] = ()
    type: str | None = None
    topic: str | None = None

    @property
    def normalized(self) -> str:
        """The query written back in one canonical form: the cache key and the feed's URL."""
        parts = [_written(t) for t in self.include] + ["-" + _written(t) for t in self.exclude]
        parts += [f"{name}:{value}" for name, value in self.filters]
        return " ".join(parts)

    @property
    def filters(self) -> list[tuple[str, str]]:
        return [(n, v) for n, v in (("type", self.type), ("topic", self.topic)) if v]

    def fts5(self) -> str:
        """The SQLite FTS5 MATCH expression: terms ANDed, exclusions with NOT."""
        expression = " AND ".join(_fts5_term(t) for t in self.include)
        for term in self.exclude:
            expression = f"({expression}) NOT {_fts5_term(term)}"
        return expression

    def tsquery(self) -> str:
        """The PostgreSQL to_tsquery('simple', ...) text: terms with &, phrases with <->."""
        parts = [_ts_term(t) for t in self.include] + ["!" + _ts_term(t) for t in self.exclude]
        return " & ".join(parts)


def parse_query(text: str) -> Query:
    """Read a query or raise QueryError saying what is wrong with it."""
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is longer than {MAX_QUERY_CHARS} characters")
    if text.count('"') % 2:
        raise QueryError('a quote is not closed: write a phrase as "two words"')
    include: list[Term] = []
    exclude: list[Term] = []
    filters: dict[str, str] = {}
    for match in _PARTS.finditer(text):
        negated, phrase, bare = match.groups()
        if phrase is not None:
            (exclude if negated else include).append(_term(phrase, quoted=True))
            continue
        name, colon, value = bare.partition(":")
        if colon and name.lower() in FILTERS:
            _filter(filters, name.lower(), value)
        elif colon and name.isalpha() and value:
            raise QueryError(f"unknown filter {name + ':'!r}; expected type: or topic:")
        elif bare.startswith("-") and len(bare) > 1:
            exclude.append(_term(bare[1:], quoted=False))
        else:
            include.append(_term(bare, quoted=False))
    if not include:
        raise QueryError("the query needs at least one word to look for")
    if len(include) + len(exclude) > MAX_TERMS:
        raise QueryError(f"the query has more than {MAX_TERMS} words and phrases")
    if sum(t.prefix for t in (*include, *exclude)) > MAX_PREFIXES:
        raise QueryError(f"at most {MAX_PREFIXES} words may end in *")
    return Query(tuple(include), tuple(exclude), filters.get("type"), filters.get("topic"))


def _term(text: str, *, quoted: bool) -> Term:
    prefix = not quoted and text.endswith("*")
    if "*" in (text[:-1] if prefix else text):
        raise QueryError(f"{text!r}: * may only end a word")
    words = tuple(word.lower() for word in _WORD.findall(text))
    if not words:
        raise QueryError(f"{text!r} has no letters or digits to look for")
    if len(words) > MAX_PHRASE_WORDS:
        raise QueryError(f"a phrase may have at most {MAX_PHRASE_WORDS} words")
    if prefix and (len(words) > 1 or len(words[0]) < MIN_PREFIX_CHARS):
        raise QueryError(f"{text!r}: a word ending in * needs {MIN_PREFIX_CHARS} letters first")
    return Term(words, prefix)


def _filter(filters: dict[str, str], name: str, value: str) -> None:
    if not _SLUG.fullmatch(value):
        raise QueryError(f"{name}: needs a slug such as {name}:report")
    if name in filters:
        raise QueryError(f"{name}: may be given once")
    filters[name] = value


def _written(term: Term) -> str:
    text = " ".join(term.words) + ("*" if term.prefix else "")
    return f'"{text}"' if len(term.words) > 1 else text


def _fts5_term(term: Term) -> str:
    """A term as an FTS5 string (words are \\w+ only, so quoting them is always safe)."""
    return '"' + " ".join(term.words) + '"' + (" *" if term.prefix else "")


def _ts_term(term: Term) -> str:
    lexemes = [f"'{word}'" for word in term.words]
    if term.prefix:
        lexemes[-1] += ":*"
    return lexemes[0] if len(lexemes) == 1 else "(" + " <-> ".join(lexemes) + ")"
