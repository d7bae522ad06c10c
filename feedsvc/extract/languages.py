"""Dates as pages in other languages print them: which order a numeric date is in, and
month names and relative forms in any language (dateparser). Pure.

The page's language (a source's `languages`, else `<html lang>`) decides the order of
"02.10.2015": day first in Norwegian, month first in US English. With no language, or one
whose order is not known, a date whose first two numbers could both be a month is
ambiguous and reported, never guessed. dateparser is imported on first use: it is slow
to load and only ingest, preview and discover need it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dateparser.date import DateData, DateDataParser

# d.m.yyyy, d/m/yyyy, d-m-yyyy (or m/d/yyyy): the numbers of an order the page's language decides
NUMERIC = re.compile(r"(?<![\d./-])(\d{1,2})([./-])(\d{1,2})\2(\d{4})(?![\d./-]|:)")
MONTH_FIRST = {"en", "en-us", "en-ph", "en-ca"}  # US usage; other English is day first
# Languages whose pages write a numeric date day first (d.m.yyyy, d/m/yyyy).
DAY_FIRST = {
    "de", "fr", "es", "it", "nl", "pt", "no", "nb", "nn", "da", "sv", "fi", "pl", "cs", "sk",
    "hu", "ro", "ru", "uk", "tr", "el", "is", "et", "lv", "lt", "hr", "sl", "sr", "bg", "ca",
    "ga", "cy", "he", "ar", "id", "ms", "vi", "th", "hi",
}  # fmt: skip
ALIASES = {"no": "nb", "iw": "he", "in": "id", "zh-cmn-hans": "zh", "zh-hans": "zh"}
AMBIGUOUS = "ambiguous"
YEAR = re.compile(r"(?<!\d)(?:1[89]|2\d)\d\d(?!\d)")
TIME_GIVEN = re.compile(r"\d:\d\d|\d\s*(?:時|h\b|uhr\b)", re.IGNORECASE)
HOURS_OR_LESS = timedelta(hours=23)
# A date inside other words ("Gepubliceerd op 20 mei 2019.", "Jane Roe | Jun 26, 2022").
DATE_INSIDE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[ T]\d{1,2}:\d{2})?"
    r"|\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日(?:\s*\d{1,2}\s*[時:]\s*\d{1,2}\s*分?)?"
    r"|\d{4}[./]\d{1,2}[./]\d{1,2}"
    r"|\d{1,2}[./-]\d{1,2}[./-]\d{4}(?:(?:,|\s-)?\s*\d{1,2}:\d{2})?"
    r"|\d{1,2}\.?\s+(?:de\s+)?[^\W\d_]{3,}\.?,?\s+(?:de\s+)?\d{4}(?:,?\s*\d{1,2}:\d{2})?"
    r"|[^\W\d_]{3,}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}(?:,?\s*\d{1,2}:\d{2}\s*(?:[ap]m)?)?",
    re.IGNORECASE,
)


def primary(languages: tuple[str, ...]) -> str | None:
    """The first language tag, lower case ("de-DE" -> "de-de"), or None."""
    return languages[0].strip().lower().replace("_", "-") if languages else None


def numeric_order(text: str, languages: tuple[str, ...]) -> tuple[str, str | None]:
    """The text with its d.m.yyyy (or m/d/yyyy) written as yyyy-mm-dd, or why not: when
    both of the first two numbers could be the month and no language says which is."""
    match = NUMERIC.search(text)
    if not match:
        return text, None
    first, second, year = int(match.group(1)), int(match.group(3)), match.group(4)
    tag = primary(languages)
    if first > 12 or second > 12 or first == second:
        day_first = first > 12 or (first == second)
    elif tag in MONTH_FIRST:
        day_first = False
    elif tag is not None and tag.split("-")[0] in DAY_FIRST | {"en"}:
        day_first = True  # en-GB, en-AU, en-IN... write the day first
    else:
        said = f"the page's language {tag!r}" if tag else "no language"
        return text, (
            f"{AMBIGUOUS}: {match.group(0)!r} may be day or month first and {said} says which "
            '(set the source\'s languages, e.g. languages = ["de"], or a date format)'
        )
    day, month = (first, second) if day_first else (second, first)
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        return text, None
    iso = f"{year}-{month:02d}-{day:02d}"
    return text[: match.start()] + iso + text[match.end() :], None


def date_inside(text: str) -> str | None:
    """The one date-looking part of a longer text, or None (none, or more than one)."""
    found = {m.group(0) for m in DATE_INSIDE.finditer(text)}
    return found.pop() if len(found) == 1 and next(iter(found)) != text else None


def in_language(
    text: str, zone: tzinfo, now: datetime, languages: tuple[str, ...]
) -> tuple[datetime | None, bool, bool]:
    """(instant in `zone` or None, day only, no year) for a date in the page's language or
    any: month names, weekdays and relative forms ("vor 3 Stunden", "hace 1 día"). A month
    or a year alone is no date; a day without a year ("30. Dezember") is its last such day."""
    base = now.astimezone(zone).replace(tzinfo=None)
    known = _known(languages)
    data = _date_data(text, known, base)
    value = data.date_obj if data else None
    if value is None or data.period not in ("day", "time"):
        return None, False, False
    named = _date_data(text, known, base, ["year"])  # a relative form reads the same
    yearless = not YEAR.search(text) and (named is None or named.date_obj != data.date_obj)
    value = value if value.tzinfo is not None else value.replace(tzinfo=zone)
    if TIME_GIVEN.search(text):
        return value, False, yearless
    recent = abs(base.replace(tzinfo=zone) - value) <= HOURS_OR_LESS
    if recent and value.time() != datetime.min.time():
        return value, False, yearless  # "vor 3 Stunden": an instant counted back from the fetch
    return value.replace(hour=0, minute=0, second=0, microsecond=0), True, yearless


def _date_data(
    text: str, languages: tuple[str, ...], base: datetime, required: list[str] | None = None
) -> DateData | None:
    """dateparser's reading; with `required` parts ("year"), only a text that names them
    reads the same (a relative form does, "30. Dezember" does not)."""
    try:
        return _parser(languages, base, required or []).get_date_data(text, None)
    except (ValueError, OverflowError, TypeError, KeyError, IndexError):
        return None


def _known(languages: tuple[str, ...]) -> tuple[str, ...]:
    """The page's languages that dateparser knows ("no" is "nb" there); () lets it detect."""
    from dateparser.data import languages_info

    known = set(languages_info.language_order)
    found = []
    for tag in languages:
        tag = tag.strip().lower().replace("_", "-")
        for name in (ALIASES.get(tag), tag, ALIASES.get(tag.split("-")[0]), tag.split("-")[0]):
            if name and name in known:
                found.append(name)
                break
    return tuple(dict.fromkeys(found))


def _parser(languages: tuple[str, ...], base: datetime, required: list[str]) -> DateDataParser:
    """A parser counting relative dates back from `base` (cheap: dateparser caches locales)."""
    from dateparser.date import DateDataParser

    settings = {
        "PREFER_DATES_FROM": "past",
        "PREFER_DAY_OF_MONTH": "first",
        "RELATIVE_BASE": base,
        "REQUIRE_PARTS": required,
    }
    return DateDataParser(languages=list(languages) or None, settings=settings)
