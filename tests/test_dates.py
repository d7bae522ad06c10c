"""The golden table of real-world date strings: each read to its known UTC instant, or refused."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from conftest import FIXTURES

from feedsvc.extract.dates import parse_date

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
