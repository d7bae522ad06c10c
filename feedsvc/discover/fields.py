"""Choose the selector of each field inside discovered items; pure, no I/O.

For every item the element holding a field is found by what it looks like (a heading, a
`<time>`, a date-like text or attribute, an image, a long paragraph, a short label whose
class says "type"); then the selector that picks that element in the most items wins.
A selector is a `Field`: plain CSS when that suffices, a table (`attr`, `pattern`) only
when the value sits in an attribute; new forms of the selector language add keys there.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import lxml.html
import msgspec
from lxml.cssselect import CSSSelector

from feedsvc.config.sources import Selector
from feedsvc.discover.titles import ACTION_TEXT, Element, title_and_link
from feedsvc.discover.titles import text_of as _text
from feedsvc.extract.dates import parse_date
from feedsvc.extract.images import BACKGROUND_URL as BACKGROUND
from feedsvc.extract.images import LAZY_ATTRIBUTES, SRCSET_ATTRIBUTES
from feedsvc.extract.listing import RUN

TYPE_CLASS = re.compile(r"type|kind|category|label|eyebrow|format|genre", re.IGNORECASE)
AUTHOR_CLASS = re.compile(r"byline|author", re.IGNORECASE)
MONTH = r"jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
YEAR = re.compile(r"(?<!\d)(?:1[89]|20)\d\d(?!\d)")
WORD_AND_DIGIT = re.compile(r"\d.*[^\W\d_]{2}|[^\W\d_]{2}.*\d")
DATE_LIKE = re.compile(
    rf"\b\d{{4}}-\d{{2}}-\d{{2}}|\b\d{{1,2}}[./]\d{{1,2}}[./](?:19|20)\d{{2}}\b"
    rf"|(?:\b(?:{MONTH})[a-z]*\.?\s+\d{{1,2}}|\b\d{{1,2}}\.?\s+(?:{MONTH})[a-z]*).*\b(?:19|20)\d{{2}}\b",
    re.IGNORECASE,
)
MAX_DATE_CHARS = 60
EXACT_DATE_ATTRIBUTES = ("datetime", "title", "data-time", "data-timestamp", "content")
DATE_ATTRIBUTES = ("datetime", "content", "data-date", "data-datetime", "data-published")
STYLE_URL_PATTERN = r"url\(['\"]?([^'\")]+)"  # the `pattern` a proposed image table gets
MAX_CLASSES = 2  # classes kept in a selector: enough to be specific, few enough to survive
CSS_CLASS = re.compile(r"^-?[A-Za-z_][\w-]*\Z")
# State and generated names change with the next publish: "odd", "is-open", "ng-star-inserted",
# "css-1x2y3z", "sc-bdVaJa", "undefined", counters ("post-1234", "item-12") and hashes
# ("a8Xk2b"); a single digit in a name ("h1-title", "nconzxl1", "col-6") is kept.
UNSTABLE_CLASS = re.compile(
    r"(?:^|[-_])\d{2,}(?:$|[-_])|\d{3,}|(?:^|[-_])(?=[^-_]*\d[^-_]*\d)[^-_]*[a-z][^-_]*(?:$|[-_])"
    r"|^(?:first|last|odd|even|active|current|selected|open|closed|hidden|visible|clearfix"
    r"|undefined|null|none)$|^(?:is|js|has|ng|css|sc|jsx|svelte|emotion|jss)-"
    r"|^(?:first|last|odd|even|active|current)[-_]",
    re.IGNORECASE,
)
CELLS = ("td", "th")
MIN_SUMMARY_CHARS = 40
MAX_LABEL_CHARS = 40
MIN_SHARE = 0.3  # an optional field is proposed when at least this share of items has it


@dataclass(frozen=True)
class Field:
    """One selector as config.toml takes it: a CSS string, or a table when `attr` is needed."""

    css: str | None  # None: the item's run of text after it (with `following`)
    attr: str | None = None
    pattern: str | None = None
    exclude: str | None = None
    following: bool = False  # among the siblings after the item (a dt's dd)
    preceding: bool = False  # the nearest earlier element (a day heading over its posts)
    line: int | None = None  # one line of a `<br>`-separated run

    def selector(self) -> Selector:
        """The selector extract reads with, as the config would give it."""
        return Selector(
            self.css,
            self.attr,
            self.exclude,
            self.pattern,
            following=self.following,
            preceding=self.preceding,
            line=self.line,
        )

    def toml(self) -> str:
        """The TOML value: `"css"`, or a table such as `{ css = "...", attr = "..." }`."""
        return selector_toml(self.selector())


def selector_toml(selector: Selector) -> str:
    """A selector as config.toml writes it: its CSS alone as a string, else an inline table of
    the keys it sets (so a repair's block keeps `format`, `path` and `following`)."""
    given = {
        key: value
        for key, value in msgspec.structs.asdict(selector).items()
        if value not in (None, "", (), [], False)
    }
    if given.keys() == {"css"}:
        return _quote(given["css"])
    return "{ " + ", ".join(f"{key} = {_value(value)}" for key, value in given.items()) + " }"


def _value(value: str | bool | int | list[str] | tuple[str, ...]) -> str:
    """A TOML string, `true`, a number, or an array of strings."""
    if value is True:
        return "true"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _quote(value)
    return "[" + ", ".join(_quote(v) for v in value) + "]"


def _quote(text: str) -> str:
    """A TOML basic string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def signature(element: lxml.html.HtmlElement, classes: Iterable[str] | None = None) -> str:
    """`tag.class.class`, with the element's stable classes (or the ones given)."""
    names = element.get("class", "").split() if classes is None else list(classes)
    stable = [c for c in names if CSS_CLASS.match(c) and not UNSTABLE_CLASS.search(c)]
    return css_tag(element) + "".join(f".{c}" for c in stable[:MAX_CLASSES])


def css_tag(element: lxml.html.HtmlElement) -> str:
    """The tag as CSS can name it; `*` for a tag broken bytes made ("a=", "p\ufffd")."""
    return element.tag if CSS_CLASS.match(element.tag) else "*"


def find_fields(
    items: list[Element], languages: tuple[str, ...] = ()
) -> tuple[dict[str, Field], list[str]]:
    """The selector of every field found in enough items, with a note on each; `languages`
    (the page's) decide what reads as a date, as they do in extract."""
    pairs = [title_and_link(item) for item in items]
    fields: dict[str, Field] = {}
    notes: list[str] = []
    taken = {
        "title": [p[0] for p in pairs],
        "link": [p[1] for p in pairs],
        "date": [date_element(i, p[0], languages) for i, p in zip(items, pairs, strict=True)],
        "image": [_image_element(i) for i in items],
        "type": [_labelled(i, TYPE_CLASS) for i in items],
        "author": [_labelled(i, AUTHOR_CLASS) for i in items],
    }
    taken["summary"] = [
        summary_element(item, {id(e) for f in taken.values() if f[n] is not None for e in [f[n]]})
        for n, item in enumerate(items)
    ]
    for name, targets in taken.items():
        found = sum(t is not None for t in targets)
        required = name in ("title", "link")
        if found == 0 or (not required and found < MIN_SHARE * len(items)):
            continue
        chosen = best_selector(items, targets)
        if chosen is None:
            notes.append(f"{name}: found in {found} items, but no one selector picks it")
            continue
        css, hits = chosen
        fields[name] = as_field(name, css, targets, languages)
        notes.append(f"{name}: {fields[name].toml()} picks it in {hits} of {len(items)} items")
    return fields, notes


def as_field(
    name: str, css: str, targets: list[Element | None], languages: tuple[str, ...]
) -> Field:
    """A table only where the value is in an attribute a plain selector does not read."""
    sample = next(t for t in targets if t is not None)
    if name == "date" and not YEAR.search(_date_value(sample)):  # "55 secs ago", "Mar 14"
        exact = next((a for a in EXACT_DATE_ATTRIBUTES if YEAR.search(sample.get(a) or "")), None)
        if exact and is_date(sample.get(exact) or "", languages):
            return Field(css, attr=exact)  # <span title="2021-07-03 12:00:00Z">55 secs ago
    if (
        name == "date"
        and next(sample.iter("a"), None) is not None
        and is_date(_own_text(sample), languages)
    ):  # the date beside the title and its links, in their holder: read it without them
        return Field(css, exclude=_children_with_text(sample))
    if name == "date" and not is_date(_date_value(sample), languages):
        attr = next(
            (a for a in DATE_ATTRIBUTES if is_date(sample.get(a) or "", languages)), "content"
        )
        return Field(css, attr=attr)
    if name == "image" and sample.tag != "img" and BACKGROUND.search(sample.get("style") or ""):
        return Field(css, attr="style", pattern=STYLE_URL_PATTERN)
    if name == "title" and (action := _action_in(sample)) is not None:
        return Field(css, exclude=signature(action))  # "A Title<div>Read</div>": leave it out
    return Field(css)


def _action_in(title: Element) -> Element | None:
    """A call to action ("Read", "Listen") nested in a title whose own text is the title."""
    return next(
        (e for e in title.iterdescendants() if ACTION_TEXT.match(_text(e))),
        None,
    )


def _date_value(element: Element) -> str:
    """What extract reads as the date: <time datetime>, else the text."""
    time = element if element.tag == "time" else next(element.iter("time"), None)
    if time is not None and time.get("datetime"):
        return time.get("datetime")
    return _text(element)


def date_element(
    item: Element, title: Element | None, languages: tuple[str, ...]
) -> Element | None:
    """A <time>, else the first innermost element with a date and a year as text (not the
    title, nor one holding it), else one with a date in an attribute, else a date with no
    year ("Mar 14")."""
    time = next((t for t in item.iter("time") if is_date(_date_value(t), languages)), None)
    if time is not None:
        return time
    inside = set() if title is None else set(title.iter())
    holders = set() if title is None else set(title.iterancestors())
    dated = [
        e
        for e in item.iter()
        if e not in inside
        and is_date(_own_text(e) if e in holders else _text(e), languages)  # "<dt><a>T</a> » date"
    ]
    # the first innermost: a thread's start before its last post, a day before a time
    inner = [e for e in dated if not any(d in dated for d in e.iterdescendants())]
    with_year = [e for e in inner if YEAR.search(_text(e))]  # "March 14, 2016" over "Mar 14"
    in_attribute = next(
        (
            e
            for e in item.iter()
            if any(is_date(e.get(a) or "", languages) for a in DATE_ATTRIBUTES)
        ),
        None,
    )
    if with_year or in_attribute is None:
        return (with_year or inner or [None])[0]
    return in_attribute  # <meta itemprop="startDate" content="2016-03-14"> over "Mar 14"


def _own_text(element: Element) -> str:
    """The element's text outside its child elements: `<dt><a>Title</a> by <a>Ann</a> »
    11 Jul 2013</dt>` gives "by » 11 Jul 2013" (the date beside a title, in its holder)."""
    parts = [element.text or "", *(child.tail or "" for child in element)]
    return " ".join(" ".join(parts).split())


def _children_with_text(element: Element) -> str:
    """The tags of the child elements with text, as an `exclude` leaving the own text."""
    return ", ".join(sorted({css_tag(c) for c in element if _text(c)}))


def is_date(text: str, languages: tuple[str, ...] = ()) -> bool:
    """What extract will read as a date (the same parser, the page's languages)."""
    if len(text) > MAX_DATE_CHARS or not (YEAR.search(text) or WORD_AND_DIGIT.search(text)):
        return False  # "12", "3/4": a count or a score, not a date
    read = parse_date(text, UTC, datetime.now(UTC), (), languages)
    return read.value is not None or read.yearless is not None  # its page may give the year


def _image_element(item: Element) -> Element | None:
    image = next(
        (
            i
            for i in item.iter("img")
            if any(i.get(a) for a in (*LAZY_ATTRIBUTES, "src", *SRCSET_ATTRIBUTES))
        ),
        None,
    )
    if image is not None:
        return image
    return next((e for e in item.iter() if BACKGROUND.search(e.get("style") or "")), None)


def _labelled(item: Element, pattern: re.Pattern) -> Element | None:
    """A short text whose class names what it is ("type", "byline")."""
    return next(
        (
            e
            for e in item.iter()
            if pattern.search(e.get("class") or "")
            and 0 < len(_text(e)) <= MAX_LABEL_CHARS
            and e.tag != "a"
        ),
        None,
    )


def summary_element(item: Element, others: set[int]) -> Element | None:
    """The element with the most text that is not another field and holds none."""
    best = None
    for element in item.iter("p", "div", "span", "section"):
        text = _text(element)
        if len(text) < MIN_SUMMARY_CHARS or len(text.split()) < 6:
            continue
        if any(id(d) in others or ACTION_TEXT.match(_text(d)) for d in element.iter()):
            continue
        if best is None or len(text) > len(_text(best)):
            best = element
    return best


def best_selector(items: list[Element], targets: list[Element | None]) -> tuple[str, int] | None:
    """The candidate selector whose first match is the target in the most items."""
    counts: Counter[str] = Counter()
    for target in targets:
        if target is not None:
            counts.update(set(selector_candidates(target)))
    best: tuple[tuple, str, int] | None = None
    for css in counts:
        if RUN in css:  # a run's copy is no element of the page
            continue
        matches = CSSSelector(css, translator="html")  # parsed once, not once per item
        hits = 0
        for item, target in zip(items, targets, strict=True):
            if target is not None:
                found = matches(item)
                hits += bool(found) and found[0] is target
        key = (hits, " " not in css, "." in css, -len(css))  # simple, then specific, then short
        if hits and (best is None or key > best[0]):
            best = (key, css, hits)
    return (best[1], best[2]) if best else None


def selector_candidates(target: Element) -> list[str]:
    """Selectors for an element: its tag, its tag with each class, then with its parent's."""
    names = (target.get("class") or "").split()
    tag = css_tag(target)
    own = [tag, *(f"{tag}.{c}" for c in names if CSS_CLASS.match(c))]
    cell = next((e for e in (target, *target.iterancestors()) if e.tag in CELLS), None)
    if cell is not None:  # a table's columns share their classes: the column's number
        place = 1 + sum(1 for _ in cell.itersiblings(cell.tag, preceding=True))
        column = f"{cell.tag}:nth-of-type({place})"
        own.append(column if cell is target else f"{column} {tag}")
    classless = len(own) == 1
    parent = target.getparent()
    if parent is not None:
        own += [f"{signature(parent)} > {o}" for o in own[:3]]
        own += [f"{signature(parent)} {tag}"]
        if cell is None and classless and tag != "*":  # no class: its place among its kind
            place = 1 + sum(1 for _ in target.itersiblings(target.tag, preceding=True))
            own.append(f"{signature(parent)} > {tag}:nth-of-type({place})")
    return own
