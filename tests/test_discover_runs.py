"""Items whose date or summary sits beside them, not inside: links in a `<br>`-separated run
(`following = true` with `line`) and posts under a day heading (`preceding = true`), read
through the pure discover and extract modules on hand-written fixtures in the shapes
parish, university, municipal and blog pages use."""

from __future__ import annotations

import json

import pytest
from conftest import FIXTURES

from feedsvc.config.sources import Selector, Selectors
from feedsvc.discover.items import discover
from feedsvc.discover.report import propose
from feedsvc.extract.listing import extract, parse_html, text_lines

DISCOVER = FIXTURES / "discover"


def fixture(name: str) -> tuple[bytes, dict]:
    expected = json.loads((DISCOVER / f"{name}.expected.json").read_text(encoding="utf-8"))
    return (DISCOVER / f"{name}.html").read_bytes(), expected


def read(name: str) -> tuple[object, list, dict]:
    """What discover proposes for the fixture and what its preview (extract + normalize) reads."""
    body, expected = fixture(name)
    found = discover(body, expected["url"])
    return found, propose(found, expected["url"], body).items, expected


@pytest.mark.parametrize(
    ("name", "item", "date", "summary"),
    [
        (
            "parish-news-br-runs",
            "p.newslist > a",
            "{ following = true, line = 1 }",
            "{ following = true, line = 2 }",
        ),
        ("lehrstuhl-td-lines", "td.inhalt > a", "{ following = true, line = 1 }", None),
        (
            "gemeente-div-runs",
            "div.nieuwsberichten > a",
            '{ css = "span.klein", following = true }',
            "{ following = true, line = 2 }",
        ),
    ],
)
def test_links_in_a_br_run_read_their_date_and_summary_from_the_lines_after_them(
    name: str, item: str, date: str, summary: str | None
) -> None:
    """A `<p>`, `<td>` or `<div>` holding `<a>Title</a><br>day<br>sentence<br><br><a>…`, or
    `<a>Title</a> &ndash; 12.03.2024<br>` on one line: each link is an item, its day and summary
    the lines after it up to the next link."""
    found, items, expected = read(name)
    assert found.item == item
    assert found.fields["date"].toml() == date
    assert (found.fields["summary"].toml() if "summary" in found.fields else None) == summary
    assert [(i.title, i.link, i.published.date().isoformat()) for i in items] == [
        (e["title"], e["link"], e["date"]) for e in expected["items"]
    ]
    if summary:
        assert [i.summary_text for i in items] == [e["summary"] for e in expected["items"]]


def test_posts_under_a_day_heading_are_dated_by_the_heading_before_them() -> None:
    """The day is an `h2.date` before the day's posts, which carry only a time: the nearest
    earlier heading, not the next day's heading after the post (which `following` would
    read for the last post of each day), nor the sidebar's archive months."""
    found, items, expected = read("movabletype-day-headings")
    assert found.item == "div.entry"
    assert found.fields["date"].toml() == '{ css = "h2.date", preceding = true }'
    assert [(i.link, i.published.date().isoformat()) for i in items] == [
        (e["link"], e["date"]) for e in expected["items"]
    ]


BLOGGER_POST = """<div class="post-outer"><div class="post hentry uncustomized-post-template">
<h3 class="post-title entry-title"><a href="https://potager.example/2024/03/{slug}.html">{title}</a></h3>
<div class="post-body entry-content">{body}<div style="clear: both;"></div></div>
<div class="post-footer"><span class="post-timestamp">à <a class="timestamp-link"
 href="https://potager.example/2024/03/{slug}.html" rel="bookmark"><abbr class="published"
 title="2024-03-12T18:42:00+01:00">{time}</abbr></a></span></div></div></div>"""


def test_a_preceding_date_is_found_among_the_siblings_of_the_items_ancestors() -> None:
    """Blogger puts a day's posts in div.date-posts after the day's h2.date-header: the
    heading is an earlier sibling of the post's parent, not of the post."""
    days = [
        ("mardi 12 mars 2024", [("semis", "Les semis sont levés"), ("paillage", "Paillage")]),
        ("dimanche 3 mars 2024", [("composteur", "Un deuxième composteur")]),
    ]
    page = (
        '<html lang="fr"><body><div class="blog-posts hfeed">'
        + "".join(
            f'<div class="date-outer"><h2 class="date-header"><span>{day}</span></h2>'
            '<div class="date-posts">'
            + "".join(
                BLOGGER_POST.format(
                    slug=slug, title=title, body="Au jardin cette semaine.", time="18:42"
                )
                for slug, title in posts
            )
            + "</div></div>"
            for day, posts in days
        )
        + "</div></body></html>"
    )
    chosen = Selectors(
        item="div.post-outer",
        title=(Selector("h3.post-title"),),
        link=(Selector("h3 a"),),
        date=(Selector("h2.date-header", preceding=True),),
    )
    assert [(r.title, r.date_text) for r in extract(page, chosen)] == [
        ("Les semis sont levés", "mardi 12 mars 2024"),
        ("Paillage", "mardi 12 mars 2024"),
        ("Un deuxième composteur", "dimanche 3 mars 2024"),
    ]


def test_an_item_before_the_first_heading_has_no_preceding_date() -> None:
    page = (
        '<div id="c"><div class="entry"><a href="/p/0">A post above every day heading</a></div>'
        '<h2 class="date">March 3, 2006</h2>'
        '<div class="entry"><a href="/p/1">A post of the third of March</a></div></div>'
    )
    chosen = Selectors(
        item="div.entry",
        title=(Selector("a"),),
        link=(Selector("a"),),
        date=(Selector("h2.date", preceding=True),),
    )
    assert [r.date_text for r in extract(page, chosen)] == ["", "March 3, 2006"]


def test_a_run_ends_at_the_next_item_and_a_missing_line_is_empty() -> None:
    page = (
        '<td class="news"><a href="/n/1">Title one of the list</a><br>12 March 2024<br>'
        'A first summary line.<br><br><a href="/n/2">Title two of the list</a><br>'
        "5 March 2024</td>"
    )
    chosen = Selectors(
        item="td.news > a",
        title=(Selector("a"),),
        link=(Selector("a"),),
        date=(Selector(following=True, line=1),),
        summary=(Selector(following=True, line=2),),
    )
    raws = extract(f"<table><tr>{page}</tr></table>", chosen)
    assert [(r.date_text, r.summary_html) for r in raws] == [
        ("12 March 2024", "A first summary line."),
        ("5 March 2024", ""),
    ]


def test_a_line_of_an_element_inside_the_item() -> None:
    """`line` reads any element's text split at its `<br>`s (empty lines left out), markup
    escaped in a summary."""
    page = (
        "<table><tr><td>Road works &lt;east&gt;<br/> <b>12 March</b> 2024 <br><br>Detour"
        "</td></tr></table>"
    )
    assert text_lines(parse_html(page).cssselect("td")[0]) == [
        "Road works <east>",
        "12 March 2024",
        "Detour",
    ]
    chosen = Selectors(
        item="tr",
        title=(Selector("td", line=1),),
        link=(Selector("a"),),
        date=(Selector("td", line=2),),
        summary=(Selector("td", line=1), Selector("td", line=4)),
    )
    raw = extract(page, chosen)[0]
    assert (raw.title, raw.date_text, raw.summary_html) == (
        "Road works <east>",
        "12 March 2024",
        "Road works &lt;east&gt;",
    )
