"""Golden redesigns: each page read with the selectors of its old markup, then redesigned in a
shape real sites take; the repair must find the same items with the same guids from the
stored ones, and must say "cannot repair" (never guess) when the list is gone."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feedsvc.config import SourceConfig, parse
from feedsvc.discover.repair import CannotRepair, rank_repairs, selectors_block, selectors_toml
from feedsvc.extract.jsondoc import json_items
from feedsvc.extract.listing import extract
from feedsvc.extract.normalize import Context, normalize
from feedsvc.model import Item, KnownItem

FIXTURES = Path(__file__).parent / "fixtures" / "repair"
NOW = datetime(2015, 4, 1, tzinfo=UTC)
MIN_KNOWN = 0.8
# Each redesign: the selectors that read its old page, and the page's URL.
REDESIGNS = {
    "classes-renamed": (
        """item = "ul.post-list > li.post"
        title = "h2.post-title"
        link = "h2.post-title a"
        date = "span.post-date"
        type = "span.post-type"
        summary = "p.post-excerpt"
        """,
        "https://news.example.org/news/",
    ),
    "wrapper-added": (
        """item = "#publications > div.entry"
        title = "h3"
        link = "h3 a"
        date = ".meta .date"
        summary = ".excerpt"
        """,
        "https://www.example.net/publications",
    ),
    "card-grid": (
        """item = "table.listing tr:has(td)"
        title = "td.title"
        link = "td.title a"
        date = "td.date"
        """,
        "https://latest.example.com/",
    ),
    "cms-move": (
        """item = "ul.teasers > li"
        title = "div.text h3"
        link = "div.text h3 a"
        type = "div.text .type"
        date = "div.text .date"
        summary = "div.text .desc"
        image = "div.img-wrap img"
        """,
        "https://www.example.org/topics/security-cooperation.html",
    ),
    "featured-latest": (
        """item = "ul.news > li"
        title = "a.headline"
        link = "a.headline"
        date = ".when"
        summary = "p"
        """,
        "https://press.example.com/newsroom",
    ),
    "dates-moved": (
        """item = "div.stories > div.story"
        title = "h3.story-title"
        link = "h3.story-title a"
        date = { css = "p.byline", pattern = "\\\\| (.+)$" }
        """,
        "https://stories.example.com/",
    ),
    "json-moved": (
        """item = "posts"
        title = "title"
        link = "link"
        date = "date"
        summary = "excerpt"
        """,
        "https://api.example.org/v1/posts",
    ),
}


def source_of(name: str) -> SourceConfig:
    """The redesign's source as the config loader reads it (dates in the site's zone)."""
    selectors, url = REDESIGNS[name]
    kind = '\nkind = "json"' if name.startswith("json") else ""
    text = f"""
[service]
database = "sqlite://"
base_url = "http://feeds.test"
[[topics]]
slug = "t"
title = "T"
[[topics.sources]]
url = "{url}"{kind}
timezone = "America/Los_Angeles"
[topics.sources.selectors]
{selectors}"""
    return parse(tomllib.loads(text), Path("config.toml")).topics[0].sources[0]


def fixture(name: str, which: str) -> bytes:
    suffix = ".json" if name.startswith("json") else ".html"
    return (FIXTURES / f"{name}.{which}{suffix}").read_bytes()


def read(body: bytes, source: SourceConfig) -> list[Item]:
    """The page's items as ingest normalizes them."""
    context = Context(page_url=source.url, source=source, type_labels={}, now=NOW)
    if source.kind == "json":
        raws = json_items(body, source.selectors)
    else:
        raws = extract(body, source.selectors, "utf-8")
    return [normalize(raw, context) for raw in raws]


def stored(name: str) -> list[KnownItem]:
    """What an ingest of the old page stored."""
    items = read(fixture(name, "before"), source_of(name))
    return [KnownItem(item.guid, item.link, item.title, item.published) for item in items]


@pytest.mark.parametrize("name", sorted(REDESIGNS))
def test_a_redesign_is_repaired_to_the_same_items_with_the_same_guids(name: str) -> None:
    source, known = source_of(name), stored(name)
    assert len(known) == 8 and all(item.published for item in known)
    after = fixture(name, "after")
    assert read(after, source) == []  # the old selectors find nothing: a broken run
    repair = rank_repairs(after, source, source.url, "utf-8", known, MIN_KNOWN, NOW)
    best = repair.proposed
    assert best is not None and best is repair.ranked[0]
    assert repair.visible == 8 and len(best.recognised) == 8
    assert [item.guid for item in best.items] == [item.guid for item in known]
    assert not best.new and not best.lost and not best.disagreements
    days = {item.guid: item.published.date() for item in known if item.published}
    zone = source.timezone
    assert {i.guid: i.published.astimezone(zone).date() for i in best.items if i.published} == days
    # the block reads back through the config loader into exactly these selectors
    assert selectors_block(source, best.block).selectors == best.source.selectors


def test_a_list_split_into_featured_and_latest_is_read_as_one() -> None:
    source = source_of("featured-latest")
    repair = rank_repairs(
        fixture("featured-latest", "after"), source, source.url, "utf-8", stored("featured-latest"),
        MIN_KNOWN, NOW,
    )  # fmt: skip
    best = repair.proposed
    assert best is not None
    assert set(best.source.selectors.item.split(", ")) == {
        "ul.featured-list > li",
        "ul.latest-list > li",
    }
    single = [one for one in repair.ranked if "," not in one.source.selectors.item]
    assert single and max(len(one.recognised) for one in single) < 8  # no one list suffices


def test_dates_moved_into_time_datetime_are_read_from_the_attribute() -> None:
    source = source_of("dates-moved")
    repair = rank_repairs(
        fixture("dates-moved", "after"), source, source.url, "utf-8", stored("dates-moved"),
        MIN_KNOWN, NOW,
    )  # fmt: skip
    assert repair.proposed is not None
    assert repair.proposed.source.selectors.date[0].css == "time"


@pytest.mark.parametrize("page", ["list-gone", "js-only"])
def test_a_redesign_that_cannot_be_repaired_is_reported_never_guessed(page: str) -> None:
    source = source_of("classes-renamed")
    body = (FIXTURES / f"{page}.after.html").read_bytes()
    with pytest.raises(CannotRepair) as raised:
        rank_repairs(body, source, source.url, "utf-8", stored("classes-renamed"), MIN_KNOWN, NOW)
    assert str(raised.value).startswith("cannot repair: the page links none of the 8 stored")
    assert raised.value.tried


def test_a_block_under_the_bar_is_shown_but_not_proposed() -> None:
    """Three titles edited on the page: the best block finds them by link, sees the title
    differ and counts 5 of 8 (62 %), under 80 %: shown, not proposed."""
    source, known = source_of("classes-renamed"), stored("classes-renamed")
    after = fixture("classes-renamed", "after").decode()
    for item in known[:3]:
        after = after.replace(f">{item.title}<", f">{item.title} (updated)<")
    repair = rank_repairs(after.encode(), source, source.url, "utf-8", known, MIN_KNOWN, NOW)
    assert repair.proposed is None
    best = repair.ranked[0]
    assert len(best.recognised) == 5 and len(best.disagreements) == 3
    assert "(updated)" in best.disagreements[0]
    assert "recognises 5 of the 8 stored items" in repair.why_not()
    lower = rank_repairs(after.encode(), source, source.url, "utf-8", known, 0.6, NOW)
    assert lower.proposed is not None and len(lower.proposed.recognised) == 5


def test_a_date_that_disagrees_is_not_recognised() -> None:
    """A list with the right links and titles but other dates (a "related" box dated by
    its own clock) does not count as the stored items."""
    source, known = source_of("dates-moved"), stored("dates-moved")
    after = fixture("dates-moved", "after").decode().replace('datetime="2015-', 'datetime="2016-')
    repair = rank_repairs(after.encode(), source, source.url, "utf-8", known, MIN_KNOWN, NOW)
    assert repair.proposed is None
    assert "stored 2015-" in repair.ranked[0].disagreements[0]


EVERY_KEY = r"""item = "dl.notices > dt"
title = { css = "a", exclude = "span.badge" }
link = { css = "a", attr = "href" }
date = [{ css = "dd span.when", following = true, format = ["%d.%m.%Y"] }, "time"]
summary = { css = "dd p", following = true, pattern = "^(.+?)\\s*$" }
author = [{ following = true, line = 3 }, { css = "h2.day", preceding = true }]
next = "link[rel~=next]"
"""


def test_the_selectors_in_force_print_as_config_keys() -> None:
    source = source_of("dates-moved")
    text = selectors_toml(source.selectors)
    assert selectors_block(source, text).selectors == source.selectors
    # every key a selector table may set survives the print: format, following, next
    every = selectors_block(source, EVERY_KEY)
    assert selectors_block(source, selectors_toml(every.selectors)).selectors == every.selectors
    assert every.selectors.next == "link[rel~=next]" and every.selectors.date[0].following


def test_the_stored_items_outrank_discovers_score() -> None:
    """The CMS move put a "most read" box above the list: discover alone scores it higher;
    the repair proposes the list that holds the stored items."""
    source = source_of("cms-move")
    repair = rank_repairs(
        fixture("cms-move", "after"), source, source.url, "utf-8", stored("cms-move"),
        MIN_KNOWN, NOW,
    )  # fmt: skip
    by_score = max(repair.ranked, key=lambda one: one.score)
    assert by_score.source.selectors.item == "div.cmp-teaser" and not by_score.recognised
    assert repair.proposed is not None
    assert repair.proposed.source.selectors.item == "li.cmp-list__item"
    assert repair.proposed.score < by_score.score


def test_a_page_that_shrank_is_no_redesign() -> None:
    """Three of eight items left, in the old markup: the selectors in force read them all,
    so no block is proposed, however well it reads them too."""
    source, known = source_of("classes-renamed"), stored("classes-renamed")
    before = fixture("classes-renamed", "before").decode()
    start = before.index('  <li class="post">')
    end = before.index("</ul>", start)
    kept = before[start:end].split("  </li>\n")[:3]
    shrunk = before[:start] + "  </li>\n".join(kept) + "  </li>\n" + before[end:]
    repair = rank_repairs(shrunk.encode(), source, source.url, "utf-8", known, MIN_KNOWN, NOW)
    assert repair.visible == 3 and repair.in_force == 3
    assert len(repair.ranked[0].recognised) == 3 and repair.proposed is None
    assert "its items changed, not its markup" in repair.why_not()


def test_json_inside_a_page_is_repaired_from_its_script_element() -> None:
    """`json = "script#__NEXT_DATA__"`: the moved fields are found in the page's own JSON."""
    source = replace(source_of("json-moved"), json="script#__NEXT_DATA__")
    data = fixture("json-moved", "after").decode()
    page = (
        '<html><body><div id="__next"></div><script id="__NEXT_DATA__" '
        f'type="application/json">{data}</script></body></html>'
    )
    repair = rank_repairs(
        page.encode(), source, source.url, "utf-8", stored("json-moved"), MIN_KNOWN, NOW
    )
    assert repair.proposed is not None and len(repair.proposed.recognised) == 8
    assert repair.proposed.source.json == "script#__NEXT_DATA__"


def test_two_stored_items_found_again_prove_nothing() -> None:
    """The redesigned page links only two of the eight stored items (a "related" box of
    another page, say): a block that reads both is shown, never proposed."""
    source, known = source_of("classes-renamed"), stored("classes-renamed")
    after = fixture("classes-renamed", "after").decode()
    for item in known[2:]:
        after = after.replace(item.link.removeprefix("https://news.example.org"), "/elsewhere/")
    repair = rank_repairs(after.encode(), source, source.url, "utf-8", known, MIN_KNOWN, NOW)
    assert repair.visible == 2 and len(repair.ranked[0].recognised) == 2
    assert repair.proposed is None and "needs 3 at the least" in repair.why_not()
