"""Fields an item does not hold but its neighbours do; pure, no I/O.

Items split over siblings (`<dt><a>Title</a></dt><dd>12 March 2024</dd>`, a heading and
its paragraphs) get their date or summary with `following = true`; items that are links in
a `<br>`-separated run (`<a>Title</a><br>12 March 2024<br>Summary<br><a>…`) get a `line`
of the text after them; items under a day heading get their date with `preceding = true`.
Each is read with extract's own functions, so discover proposes what extract will read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from feedsvc.discover.fields import (
    MIN_SHARE,
    MIN_SUMMARY_CHARS,
    RUN,
    YEAR,
    Field,
    as_field,
    best_selector,
    date_element,
    is_date,
    selector_candidates,
    summary_element,
)
from feedsvc.discover.titles import Element
from feedsvc.extract.listing import following_run, preceding_match, text_lines

MIN_SUMMARY_WORDS = 6
PRECEDING_STEPS = 400  # earlier elements looked at per item for its day heading
Finder = Callable[[list[Element], str, tuple[str, ...]], "tuple[Field, int] | None"]


def sibling_fields(
    items: list[Element], fields: dict[str, Field], languages: tuple[str, ...]
) -> list[str]:
    """Add to `fields` the date and summary the items lack but their neighbours give, a
    note on each: the reading that serves the most items wins, ties in this order: the
    siblings after each, a line of the text after each, the heading before a group (a
    day heading is also "after" the last post of the day before: it must serve more)."""
    notes = []
    finders: dict[str, tuple[Finder, ...]] = {
        "date": (_following, _line, _preceding),
        "summary": (_following, _line),
    }
    for name, tried in finders.items():
        if name in fields:
            continue
        found = [one for finder in tried if (one := finder(items, name, languages))]
        if not found:
            continue
        field, hits = max(found, key=lambda one: one[1])  # the first of the best
        fields[name] = field
        place = "before" if field.preceding else "after"
        notes.append(f"{name}: {field.toml()} picks it {place} {hits} of {len(items)} items")
    return notes


def _following(
    items: list[Element], name: str, languages: tuple[str, ...]
) -> tuple[Field, int] | None:
    """A date or summary in the siblings after each item, up to the next item: read from
    copies of those siblings, so a selector never names their parent."""
    runs = [following_run(item) for item in items]
    if name == "date":
        targets = [date_element(run, None, languages) if len(run) else None for run in runs]
    else:
        targets = [summary_element(run, set()) if len(run) else None for run in runs]
    if sum(t is not None for t in targets) < max(1, MIN_SHARE * len(items)):
        return None
    chosen = best_selector(runs, targets)
    if chosen is None:
        return None
    plain = as_field(name, chosen[0], targets, languages)
    return Field(plain.css, plain.attr, plain.pattern, plain.exclude, following=True), chosen[1]


def _line(items: list[Element], name: str, languages: tuple[str, ...]) -> tuple[Field, int] | None:
    """The line of the text after each item that holds its date (with a year: a bare time
    is no day) or its summary (a sentence), where items are followed by a `<br>`."""
    runs = [text_lines(following_run(item)) if _broken(item) else [] for item in items]

    def fits(line: str) -> bool:
        if name == "date":
            return bool(YEAR.search(line)) and is_date(line, languages)
        return (
            len(line) >= MIN_SUMMARY_CHARS
            and len(line.split()) >= MIN_SUMMARY_WORDS
            and not is_date(line, languages)
        )

    places = Counter(
        next((n for n, line in enumerate(lines, 1) if fits(line)), 0) for lines in runs
    )
    places.pop(0, None)
    if not places:
        return None
    place = places.most_common(1)[0][0]
    hits = sum(len(lines) >= place and fits(lines[place - 1]) for lines in runs)
    if hits < max(1, MIN_SHARE * len(items)):
        return None
    return Field(None, following=True, line=place), hits


def _broken(item: Element) -> bool:
    """Whether the first element after the item is a `<br>`: a line of a text run."""
    return next((s.tag == "br" for s in item.itersiblings() if isinstance(s.tag, str)), False)


def _preceding(
    items: list[Element], name: str, languages: tuple[str, ...]
) -> tuple[Field, int] | None:
    """The date of a heading before each group of items (`<h2 class="date">March 3, 2006`
    then its posts): the nearest earlier element, outside the items, whose text is a date
    with a year; proposed only when it groups items (two headings or more)."""
    inside = {e for item in items for e in item.iter()}  # held: the same proxies
    targets = [_earlier_date(item, inside, languages) for item in items]
    found = [t for t in targets if t is not None]
    if len({id(t) for t in found}) < 2:
        return None
    counts: Counter[str] = Counter()
    for target in found:
        counts.update(set(selector_candidates(target)))
    best: tuple[tuple, str, int] | None = None
    for css in counts:
        if RUN in css:
            continue
        hits = sum(
            t is not None and preceding_match(item, css) is t
            for item, t in zip(items, targets, strict=True)
        )
        key = (hits, " " not in css, "." in css, -len(css))
        if hits and (best is None or key > best[0]):
            best = (key, css, hits)
    if best is None or best[2] < max(1, MIN_SHARE * len(items)):
        return None
    return Field(best[1], preceding=True), best[2]


def _earlier_date(
    item: Element, inside: set[Element], languages: tuple[str, ...]
) -> Element | None:
    """The nearest element before the item (its and its ancestors' earlier siblings, their
    last descendants first) whose own text is a date with a year, outside every item."""
    steps = 0
    for node in [item, *item.iterancestors()]:
        if node.tag in ("body", "html"):
            break
        for sibling in node.itersiblings(preceding=True):
            if not isinstance(sibling.tag, str):
                continue
            for element in reversed([sibling, *sibling.iterdescendants()]):
                steps += 1
                if steps > PRECEDING_STEPS:
                    return None
                if element in inside or not isinstance(element.tag, str):
                    continue
                text = " ".join(element.text_content().split())
                if YEAR.search(text) and is_date(text, languages):
                    return element
    return None
