"""Extraction and normalization of the two real captures, item for item, against hand-written goldens."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from conftest import FIXTURES, expected, page

from feedsvc.config import Config, load
from feedsvc.extract.listing import extract
from feedsvc.extract.normalize import Context, normalize

PAGE_URL = "https://www.rand.org/topics/security-cooperation.html"
CAPTURES = [
    ("rand-2015.html", "rand-2015.expected.json", "000_dbec25ed298fc97f.txt"),
    ("rand-2024.html", "rand-2024.expected.json", "001_5e7bc54dc4cabc2d.txt"),
]


@pytest.fixture(scope="module")
def shipped() -> Config:
    """The shipped config.toml: its preset and time zone are what production uses."""
    return load(FIXTURES.parent.parent / "config.toml")


def items_of(name: str, config: Config) -> list:
    source = config.topics[0].sources[0]
    context = Context(PAGE_URL, source, config.types, datetime(2026, 1, 1, tzinfo=UTC))
    return [normalize(raw, context) for raw in extract(page(name), source.selectors)]


@pytest.mark.parametrize(("html", "golden", "seed"), CAPTURES)
def test_every_item_matches_the_capture(html: str, golden: str, seed: str, shipped: Config) -> None:
    items = items_of(html, shipped)
    wanted = expected(golden)
    assert len(items) == len(wanted)
    for item, want in zip(items, wanted, strict=True):
        assert item.title == want["title"]
        assert item.link == item.guid == want["link"]
        assert item.summary_text == want["summary"]
        assert item.image_caption == want["image_caption"]
        assert item.image_url == want["image_url"]
        local = item.published.astimezone(ZoneInfo("America/Los_Angeles"))
        assert (local.date().isoformat(), local.hour) == (want["date"], 0)
        if want["type_label"]:
            assert item.type_label == want["type_label"]


@pytest.mark.parametrize(("html", "golden", "seed"), CAPTURES)
def test_titles_and_captions_stand_in_the_seed_text(
    html: str, golden: str, seed: str, shipped: Config
) -> None:
    """An independent check of the goldens: every title, summary and caption is in the capture."""
    text = " ".join((FIXTURES / "seeds" / seed).read_text(encoding="utf-8").split())
    for item in items_of(html, shipped):
        assert item.title in text
        assert item.summary_text in text
        if item.image_caption:
            assert item.image_caption in text


def test_types_come_from_labels_then_link_rules(shipped: Config) -> None:
    old = {i.title: i.type_slug for i in items_of("rand-2015.html", shipped)}
    new = {i.title: (i.type_slug, i.type_label) for i in items_of("rand-2024.html", shipped)}
    assert old["A Database of U.S. Security Treaties and Agreements"] == "tool"
    assert old["Salvaging Iraq"] == "commentary"
    assert new["Deterring Russia and Iran"] == ("report", "Report")
    assert new["Why Improve Ukraine's Deep-Strike Capability?"] == ("commentary", "Commentary")
    recap = "Escalation in Ukraine, a Trilateral Imperialist Threat, Disaster Recovery: RAND Weekly Recap"
    assert new[recap] == ("rand-weekly-recap", "RAND Weekly Recap")
    assert {slug for slug, _ in new.values()} == {"commentary", "report", "rand-weekly-recap"}


def test_photo_credit_is_split_from_the_caption(shipped: Config) -> None:
    by_title = {i.title: i for i in items_of("rand-2024.html", shipped)}
    item = by_title["Separate U.S. Alliances in East Asia Are Obsolete"]
    assert item.image_credit == "Jim Bourg/Reuters"
    assert item.image_caption.endswith("photo by Jim Bourg/Reuters")
    assert by_title[
        "Toward a New Paradigm in U.S. Foreign Policy: Harnessing the Power of American "
        "Society in Pursuit of U.S. National Security Objectives"
    ].image_credit == ("bamlou/Getty Images")


def test_any_site_with_selectors_written_in_the_config(tmp_path) -> None:
    """An operator adds another site by writing selectors and type rules, without code."""
    path = tmp_path / "config.toml"
    path.write_text("""
[service]
database = "sqlite:///feeds.sqlite3"
base_url = "http://feeds.test"
[[topics]]
slug = "arctic"
title = "Arctic"
  [[topics.sources]]
  url = "https://example.org/news/"
  timezone = "Europe/Berlin"
  [topics.sources.selectors]
  item = "article.teaser"
  title = "h2"
  link = "h2 a"
  type = ".kind"
  date = "time"
  summary = ".teaser-text"
  image = "img"
  author = ".byline"
  [[topics.sources.type_rules]]
  path_prefix = "/reports/"
  type = "report"
""")
    config = load(path)
    source = config.topics[0].sources[0]
    context = Context(
        "https://example.org/news/", source, config.types, datetime(2026, 1, 1, tzinfo=UTC)
    )
    brief, ports = [
        normalize(raw, context) for raw in extract(page("other-site.html"), source.selectors)
    ]
    assert (
        brief.link == "https://example.org/briefs/2024/arctic-cooperation"
    )  # no tracking, no fragment
    assert (brief.type_slug, brief.type_label) == ("policy-brief", "Policy Brief")
    assert brief.published == datetime(2024, 3, 5, 8, 30, tzinfo=UTC)
    assert brief.author == "Jane Roe"
    assert brief.summary_html == (
        'A <em>short</em> look at <a href="https://example.org/topics/arctic" '
        'rel="noopener noreferrer">Arctic</a> cooperation.'
    )
    assert brief.image_url == "https://cdn.example.org/img/arctic.jpg"  # protocol-relative
    assert brief.image_credit == "Max Muster"
    assert (ports.type_slug, ports.type_label) == ("report", "Report")
    assert ports.published == datetime(2024, 1, 31, 23, 0, tzinfo=UTC)  # midnight in Berlin
    assert ports.author is None and ports.image_url is None


def _news_list(lang: str, date: str, head: str = "") -> bytes:
    """A small newsroom list as Norwegian or British pages print it."""
    return f"""<!DOCTYPE html><html lang="{lang}"><head>{head}</head><body><ul class="news">
    <li><a href="nyheter/ny-rute">Ny rute til Seattle fra mai</a> <span class="dato">{date}</span></li>
    <li><a href="nyheter/sommer">Sommerprogrammet er klart</a> <span class="dato">16.02.2016</span></li>
    </ul></body></html>""".encode()


@pytest.mark.parametrize(
    ("lang", "configured", "day"),
    [("no", (), "2015-10-02"), ("en-GB", (), "2015-10-02"), ("en-US", (), "2015-02-10"),
     ("", ("nb",), "2015-10-02"), ("en-US", ("de",), "2015-10-02")],
)  # fmt: skip
def test_the_pages_language_decides_a_numeric_dates_order(
    lang: str, configured: tuple[str, ...], day: str
) -> None:
    """<html lang> (or the source's `languages`, which wins) orders 02.10.2015."""
    from feedsvc.config.sources import Selector, Selectors, SourceConfig

    selectors = Selectors(
        "ul.news > li", (Selector("a"),), (Selector("a"),), date=(Selector("span.dato"),)
    )
    source = SourceConfig("https://www.example.no/", selectors, languages=configured)
    context = Context("https://www.example.no/", source, {}, datetime(2026, 1, 1, tzinfo=UTC))
    first = normalize(extract(_news_list(lang, "02.10.2015"), selectors, "utf-8")[0], context)
    assert first.published.date().isoformat() == day


def test_an_ambiguous_date_with_no_language_is_reported_not_guessed() -> None:
    from feedsvc.config.sources import Selector, Selectors, SourceConfig

    selectors = Selectors(
        "ul.news > li", (Selector("a"),), (Selector("a"),), date=(Selector("span.dato"),)
    )
    source = SourceConfig("https://www.example.no/", selectors)
    context = Context("https://www.example.no/", source, {}, datetime(2026, 1, 1, tzinfo=UTC))
    first = normalize(extract(_news_list("", "02.10.2015"), selectors, "utf-8")[0], context)
    assert first.published is None and first.date_problem.startswith("ambiguous")


def test_links_resolve_against_the_pages_base_href() -> None:
    from feedsvc.config.sources import Selector, Selectors

    selectors = Selectors("ul.news > li", (Selector("a"),), (Selector("a"),))
    body = _news_list("no", "02.10.2015", '<base href="https://cdn.example.no/nyheter/2016/">')
    links = [raw.link for raw in extract(body, selectors, "utf-8")]
    assert links == [
        "https://cdn.example.no/nyheter/2016/nyheter/ny-rute",
        "https://cdn.example.no/nyheter/2016/nyheter/sommer",
    ]
