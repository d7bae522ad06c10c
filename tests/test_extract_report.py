"""Extract and normalize say per field what they found, so a preview can report
"date: 3 of 4 items; 1 had text that is not a date: 'Multimedia'" without a fetch."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from conftest import FIXTURES, write_config

from feedsvc.config import load
from feedsvc.extract.listing import coverage, extract
from feedsvc.extract.normalize import Context, normalize

FAMILY = FIXTURES / "families" / "carousel"


def test_per_field_counts_and_the_texts_that_are_not_dates(tmp_path: Path) -> None:
    expect = json.loads(FAMILY.with_suffix(".expected.json").read_text(encoding="utf-8"))
    path = write_config(tmp_path, "http://127.0.0.1:9/carousel.html")
    path.write_text(path.read_text().replace('preset = "rand-topic"', expect["source"]))
    source = load(path).topics[0].sources[0]
    raws = extract(FAMILY.with_suffix(".html").read_bytes(), source.selectors, "utf-8")
    assert coverage(raws) == {
        "title": 4,
        "link": 4,
        "type": 4,
        "date": 4,
        "summary": 1,
        "image": 4,
        "author": 0,
    }
    context = Context(source.url, source, {}, datetime(2026, 1, 1, tzinfo=UTC))
    items = [normalize(raw, context) for raw in raws]
    dated = [item for item in items if item.published is not None]
    problems = [item.date_problem for item in items if item.date_problem]
    assert (len(dated), problems) == (3, ["not a date: 'Multimedia'"])
    assert [item.date_day_only for item in dated] == [False, False, False]
