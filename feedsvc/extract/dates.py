"""Read the dates real pages print, right or not at all: every refusal says why. Pure.

python-dateutil does the general parsing; what it gets wrong is fixed before it
sees the text: a JavaScript `Date` string's "GMT-0400" (dateutil reads the sign
the POSIX way, 8 hours off) and US zone abbreviations (ignored, with a warning).
A numeric date's day/month order comes from the page's language or is reported as
ambiguous (extract.languages); what dateutil cannot read (other languages, relative
forms) goes to dateparser; a date inside other words (a byline) is read alone; a
range is its first day. A general parser's reading that invents what the text does not
say (another year, a month, a time) is reported; a day without a year takes the year
its page makes certain (page_years) or is reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from dateutil import parser as date_parser
from dateutil.relativedelta import relativedelta

from feedsvc.extract.languages import AMBIGUOUS, date_inside, in_language, numeric_order

EARLIEST_YEAR = 1800
DAY_SLACK = timedelta(days=1)  # a day's dates are midnight in the source's zone
FUTURE_SLACK = timedelta(days=1)
MAX_DATE_CHARS = 100
GMT_OFFSET = re.compile(r"\b(?:GMT|UTC)\s*([+-])(\d{1,2}):?(\d{2})\b")
ZONE_NAME_IN_PARENS = re.compile(r"\s*\([^)]*\)\s*$")
LEAD_IN = re.compile(r"^(?:posted|published|updated|released|dated?)(?:\s+on)?\s*:?\s+", re.I)
HAS_TIME = re.compile(r"\d:\d\d|T\d\d")
HAS_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|2\d\d\d)(?!\d)")
# A range of two dates: "March 19, 2016 - March 20, 2016", "Mar 30 to Apr 2, 2016" (its start is
# the item's day), and one of days: "19-20 March 2016", "19. - 20. März 2016".
RANGE = re.compile(
    r"\s+(?:[-\u2013\u2014]|to|bis|au|al|till)\s+|\s*[\u2013\u2014]\s*", re.IGNORECASE
)
TIMESTAMP = re.compile(r"^1\d{9}(?:\d{3})?$")  # 2001-09-09 to 2033-05-18, in s or ms
WORD = re.compile(r"[^\W\d_]")
LEADING_DAYS = re.compile(r"^((\d{1,2})\.?)\s*[-\u2013\u2014]\s*(\d{1,2}\.?\s+\D.*)$")
RELATIVE = re.compile(
    r"^(?:(?P<count>\d+|an?|one)\s+(?P<unit>second|minute|hour|day|week|month|year)s?\s+ago"
    r"|(?P<word>just now|now|today|yesterday))$",
    re.IGNORECASE,
)
# Abbreviations dateutil cannot place; North American ones are what English pages print.
ZONE_ABBREVIATIONS = {
    name: offset * 3600
    for name, offset in {
        "UT": 0,
        "UTC": 0,
        "GMT": 0,
        "Z": 0,
        "EST": -5,
        "EDT": -4,
        "CST": -6,
        "CDT": -5,
        "MST": -7,
        "MDT": -6,
        "PST": -8,
        "PDT": -7,
        "BST": 1,
        "CET": 1,
        "CEST": 2,
    }.items()
}


@dataclass(frozen=True)
class ParsedDate:
    """A date read from a page: the instant (UTC), whether the page gave only a day, and
    when there is text but no usable date, why (`problem`), for reports and previews."""

    value: datetime | None = None
    day_only: bool = False
    problem: str | None = None
    yearless: datetime | None = None  # a day without a year: its last such day, for page_years


def parse_date(
    text: str,
    zone: tzinfo,
    now: datetime,
    formats: tuple[str, ...] = (),
    languages: tuple[str, ...] = (),
    year: int | None = None,
) -> ParsedDate:
    """The instant `text` names; a date without a zone is in `zone`, without a time midnight.
    `languages` (the source's, else the page's) decide a numeric date's order; a day with no
    year ("Mar 14") takes `year` (what its page makes certain, page_years) or is reported."""
    text = LEAD_IN.sub("", " ".join(text.split())[:MAX_DATE_CHARS])
    if not text:
        return ParsedDate()
    if (exact := _strptime(text, formats)) is not None:
        return _checked(exact, text, zone, now, not HAS_TIME.search(text))
    if (ranged := _range_start(text, zone, now, languages)) is not None:
        return ranged
    found = _read(text, zone, now, languages, year=year)
    if found.value is not None or (found.problem or "").startswith(AMBIGUOUS):
        return found
    inside = date_inside(text)  # "Jane Roe | Jun 26, 2022": the one date in it
    return _read(inside, zone, now, languages, text, year) if inside else found


def _range_start(
    text: str, zone: tzinfo, now: datetime, languages: tuple[str, ...]
) -> ParsedDate | None:
    """A range's first day ("March 19 - 20, 2016", "19.-20. März 2016", "Dec 30 - Jan 2,
    2016"): its missing month or year come from the end, a year back when the start would
    follow the end. None when the text is no range of two dates."""
    days = LEADING_DAYS.match(text)
    parts = [days.group(2), days.group(3)] if days else RANGE.split(text, maxsplit=1)
    if len(parts) != 2 or not (year := HAS_YEAR.search(parts[1])):
        return None
    start, end = parts
    if not days and not WORD.search(start) and not re.search(r"\d", start):
        return None  # an en dash and one date (a title line's end): no range
    if days or not WORD.search(start):  # "19-20 March 2016": the end with the first day
        start = re.sub(r"\d{1,2}", re.findall(r"\d+", start)[0], end, count=1)
    elif not HAS_YEAR.search(start):  # "March 19" or "19 March": the end's year
        start = f"{start} {year.group(0)}"
        if not WORD.search(end):  # "March 19 - 20, 2016": the end in the start's month
            end = re.sub(r"\d{1,2}", re.findall(r"\d+", end)[0], start, count=1)
    first, last = (_read(part, zone, now, languages, text) for part in (start, end))
    if first.value is None or last.value is None:
        return None
    if first.value > last.value and not HAS_YEAR.search(parts[0]):  # "Dec 30 - Jan 2, 2016"
        return _checked(first.value - relativedelta(years=1), text, zone, now, first.day_only)
    return first


def _read(
    text: str,
    zone: tzinfo,
    now: datetime,
    languages: tuple[str, ...],
    shown: str = "",
    year: int | None = None,
) -> ParsedDate:
    """One reading of `text`: relative English, dateutil, then dateparser; `shown` is the
    whole text it came from, for messages."""
    ordered, ambiguous = numeric_order(text, languages)
    if ambiguous:
        return ParsedDate(problem=f"{ambiguous} in {shown or text!r}")
    if TIMESTAMP.match(text):  # data-timestamp="1457612400": seconds (or ms) since 1970, UTC
        seconds = int(text[:10]) + int(text[10:] or 0) / 1000
        return _checked(datetime.fromtimestamp(seconds, UTC), text, zone, now, False)
    parsed = _relative(ordered, zone, now)
    day_only = not HAS_TIME.search(ordered) and not _is_relative_time(ordered)
    yearless = False
    if parsed is None:  # a general parser's reading: checked against what the text says
        parsed, yearless = _general(ordered, now)
        if parsed is None:
            parsed, day_only, yearless = in_language(ordered, zone, now, languages)
        if parsed is not None and _misread(parsed, ordered, day_only):
            return ParsedDate(problem=f"misread: {shown or text!r} gives {parsed:%Y-%m-%d %H:%M}")
    if parsed is None:
        return ParsedDate(problem=f"not a date: {shown or text!r}")
    if yearless:
        return _in_year(parsed, year, shown or text, zone, now, day_only)
    return _checked(parsed, shown or text, zone, now, day_only)


def _in_year(
    parsed: datetime, year: int | None, text: str, zone: tzinfo, now: datetime, day_only: bool
) -> ParsedDate:
    """A day without a year in the year its page makes certain, else reported with its
    last such day (what page_years weighs)."""
    last = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)
    if year is None:
        return ParsedDate(
            problem=f"no year: {text!r} (its page's order does not make the year certain)",
            yearless=last,
        )
    try:
        return _checked(last.replace(year=year), text, zone, now, day_only)
    except ValueError:  # 29 February in a year without one
        return ParsedDate(problem=f"no year: {text!r} is no day in {year}")


def page_years(readings: list[ParsedDate], now: datetime) -> dict[int, int]:
    """The year of each yearless day (by index) where its page makes it certain: between the
    nearest dated item above it (or the fetch time) and the nearest one below it, newest
    first, only one year puts that day. Without a dated item below, or out of order, none."""
    known = [(index, r.value) for index, r in enumerate(readings) if r.value is not None]
    years: dict[int, int] = {}
    for index, reading in enumerate(readings):
        if reading.yearless is None:
            continue
        upper = next((v for i, v in reversed(known) if i < index), now)
        lower = next((v for i, v in known if i > index), None)
        if lower is None or lower > upper:
            continue
        fits = [
            year
            for year in range(lower.year - 1, upper.year + 2)
            if _on(reading.yearless, year, lower - DAY_SLACK, upper + DAY_SLACK)
        ]
        if len(fits) == 1:
            years[index] = fits[0]
    return years


def _on(day: datetime, year: int, earliest: datetime, latest: datetime) -> bool:
    try:
        return earliest <= day.replace(year=year) <= latest
    except ValueError:  # 29 February
        return False


def _misread(parsed: datetime, text: str, day_only: bool) -> bool:
    """A reading that invented what the text does not say: another year than the one
    written ("March 19 - 20, 2016" as 2020), a month where none is ("15 2016" as 15
    January), or a time from a day ("20, 2016" as 20:16)."""
    years = {int(year) for year in HAS_YEAR.findall(text)}
    other_year = bool(years) and parsed.year not in years
    no_month = not WORD.search(text) and len(re.findall(r"\d+", text)) < 3  # "15 2016"
    return other_year or no_month or (day_only and parsed.time() != datetime.min.time())


def _checked(
    parsed: datetime, text: str, zone: tzinfo, now: datetime, day_only: bool
) -> ParsedDate:
    """The instant in UTC, unless before 1800 or in the future."""
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    parsed = parsed.astimezone(UTC)
    if parsed.year < EARLIEST_YEAR or parsed > now + FUTURE_SLACK:
        return ParsedDate(problem=f"out of range ({parsed:%Y-%m-%d}): {text!r}")
    return ParsedDate(parsed, day_only=bool(day_only))


def _relative(text: str, zone: tzinfo, now: datetime) -> datetime | None:
    """ "3 days ago", "yesterday": counted back from the fetch time."""
    match = RELATIVE.match(text)
    if not match:
        return None
    word = (match.group("word") or "").lower()
    if word in ("now", "just now"):
        return now
    if word in ("today", "yesterday"):
        day = now.astimezone(zone).date() - timedelta(days=word == "yesterday")
        return datetime(day.year, day.month, day.day, tzinfo=zone)
    count = match.group("count").lower()
    number = 1 if count in ("a", "an", "one") else int(count)
    return now - relativedelta(**{match.group("unit").lower() + "s": number})


def _is_relative_time(text: str) -> bool:
    match = RELATIVE.match(text)
    return bool(match and (match.group("unit") or "").lower() in ("second", "minute", "hour"))


def _strptime(text: str, formats: tuple[str, ...]) -> datetime | None:
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def _general(text: str, now: datetime) -> tuple[datetime | None, bool]:
    """dateutil on the text with its JavaScript offset and zone name made unambiguous, and
    whether the text gave a day but no year (read as the last such day)."""
    if not re.search(r"\d", text):
        return None, False  # "Multimedia", "May": nothing dateutil should guess from
    cleaned = ZONE_NAME_IN_PARENS.sub("", text)
    cleaned = GMT_OFFSET.sub(lambda m: f"{m.group(1)}{int(m.group(2)):02d}{m.group(3)}", cleaned)
    year_given = HAS_YEAR.search(cleaned) is not None
    default = datetime(now.year if not year_given else 2000, 1, 1)
    try:
        parsed = date_parser.parse(cleaned, default=default, tzinfos=ZONE_ABBREVIATIONS)
        earlier = default.replace(year=default.year - 1)  # the year is the text's if it stays
        other = date_parser.parse(cleaned, default=earlier, tzinfos=ZONE_ABBREVIATIONS)
    except (ValueError, OverflowError, TypeError):
        return None, False
    if other.year == parsed.year:
        return parsed, False
    if parsed.replace(tzinfo=parsed.tzinfo or UTC) > now + FUTURE_SLACK:
        parsed = parsed.replace(year=parsed.year - 1)  # "Dec 30" read in January: last year
    return parsed, True
