"""The golden table of real-world date strings: each read to its known UTC instant, or refused."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from conftest import FIXTURES

from feedsvc.extract.dates import page_years, parse_date

GOLDEN = json.loads((FIXTURES / "dates" / "golden.json").read_text(encoding="utf-8"))
ZONE = ZoneInfo(GOLDEN["zone"])
NOW = datetime.fromisoformat(GOLDEN["now"])


@pytest.mark.parametrize("case", GOLDEN["cases"], ids=[c[0] or "(empty)" for c in GOLDEN["cases"]])
def test_every_date_string_of_the_golden_table(case: list) -> None:
    text, instant, *reason = case
    parsed = parse_date(text, ZONE, NOW)
    if instant is None:
        assert parsed.value is None
        if reason[0] is None:
            assert parsed.problem is None
        else:
            assert parsed.problem.startswith(reason[0]) and repr(text) in parsed.problem
    else:
        assert parsed.value is not None, parsed.problem
        assert parsed.value.isoformat() == instant


def test_table_is_large_enough() -> None:
    assert len(GOLDEN["cases"]) >= 40
    other = [c for c in GOLDEN["in_languages"] if c[0] and not c[0][0].startswith("en")]
    assert len(other) >= 40
    assert len({c[0][0].split("-")[0] for c in other}) >= 8


@pytest.mark.parametrize(
    "case",
    GOLDEN["in_languages"],
    ids=[f"{'/'.join(c[0]) or '-'}:{c[1]}" for c in GOLDEN["in_languages"]],
)
def test_every_date_in_another_language(case: list) -> None:
    """The page's language decides; an ambiguous date is reported, never guessed."""
    languages, text, instant, *reason = case
    parsed = parse_date(text, ZONE, NOW, (), tuple(languages))
    if instant is None:
        assert parsed.value is None and parsed.problem.startswith(reason[0]), parsed
        assert repr(text) in parsed.problem
    else:
        assert parsed.value is not None, parsed.problem
        assert parsed.value.isoformat() == instant


def test_strptime_formats_are_tried_first() -> None:
    """An operator's format settles what dateutil would guess the other way round (day first)."""
    parsed = parse_date("03/04/2018", ZONE, NOW, ("%d/%m/%Y",))
    assert parsed.value.isoformat() == "2018-04-03T04:00:00+00:00" and parsed.day_only
    us = parse_date("03/04/2018", ZONE, NOW, (), ("en-US",))
    assert us.value.isoformat() == "2018-03-04T05:00:00+00:00"
    guessed = parse_date("03/04/2018", ZONE, NOW)  # no language: reported, not guessed
    assert guessed.value is None and guessed.problem.startswith("ambiguous")


def test_day_only_is_told_apart_from_an_instant() -> None:
    assert parse_date("March 12, 2018", ZONE, NOW).day_only
    assert not parse_date("2018-03-12T10:00:00Z", ZONE, NOW).day_only


def read_page(texts: list[str], now: datetime = NOW) -> list[str | None]:
    """A page's dates, newest first, as ingest reads them: the year of a day printed without
    one where the page makes it certain, else nothing (and the reason)."""
    readings = [parse_date(text, ZONE, now) for text in texts]
    years = page_years(readings, now)
    read = [parse_date(text, ZONE, now, (), (), years.get(n)) for n, text in enumerate(texts)]
    return [r.value.date().isoformat() if r.value else r.problem.split(":")[0] for r in read]


def test_a_day_without_a_year_takes_the_one_year_its_place_allows() -> None:
    """Between the fetch time (or a dated item above) and a dated item below, newest first,
    a day fits one year only: "Jan 14" and "Dec 30" over "Dec 2, 2025", read in January."""
    assert read_page(["Jan 14", "Dec 30", "Dec 2, 2025", "Nov 20, 2025"]) == [
        "2026-01-14",
        "2025-12-30",
        "2025-12-02",
        "2025-11-20",
    ]
    assert read_page(["3 days ago", "Jan 5", "Oct 1", "2025-09-30"]) == [
        "2026-01-12",
        "2026-01-05",
        "2025-10-01",
        "2025-09-30",
    ]


def test_a_day_without_a_year_is_reported_when_nothing_makes_the_year_certain() -> None:
    # no dated item below: the whole page could be a year older
    assert read_page(["Jan 14", "Dec 30"]) == ["no year", "no year"]
    # more than a year between the fetch and the dated item below: "Mar 3" fits two years
    assert read_page(["Mar 3", "Jan 5, 2024"]) == ["no year", "2024-01-05"]
    # not newest first: the dated item below is newer than the one above
    assert read_page(["Mar 3, 2025", "Mar 1", "Jun 1, 2025"]) == [
        "2025-03-03",
        "no year",
        "2025-06-01",
    ]
