"""Discover on the shapes that defeat a plain item finder, read through the pure discover and
extract modules on hand-written fixtures: the date beside a title in its holder, a date
in a class-less box, the page's own site named by its canonical link, date ranges, days
without a year, rows sharing a link, schema.org microdata."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from conftest import FIXTURES

from feedsvc.config.sources import Selector, Selectors
from feedsvc.discover.fields import find_fields
from feedsvc.discover.items import discover
from feedsvc.discover.report import propose
from feedsvc.discover.schema import microdata_links
from feedsvc.extract.listing import extract, parse_html

DISCOVER = FIXTURES / "discover"
LOCAL = "http://127.0.0.1:8000/"  # the page read from another address than its site's


def fixture(name: str) -> tuple[bytes, dict]:
    expected = json.loads((DISCOVER / f"{name}.expected.json").read_text(encoding="utf-8"))
    return (DISCOVER / f"{name}.html").read_bytes(), expected


def test_a_forum_topic_is_dated_by_its_start_beside_the_title_not_its_last_post() -> None:
    body, expected = fixture("phpbb-topics-fr")
    found = discover(body, expected["url"])
    assert found.fields["date"].toml() == '{ css = "dt", exclude = "a" }'
    items = propose(found, expected["url"], body).items
    days = {item.link: item.published.date().isoformat() for item in items if item.published}
    assert days == {e["link"]: e["date"] for e in expected["items"]}


def test_a_date_in_a_box_without_a_class_is_picked_by_its_place() -> None:
    threads = "".join(
        f"""<div class="thread">
          <div class="thread_left"><a href="/forum/Notebooks/t{n}">Akku Frage {n}</a><br />
            <span class="category_path">Notebooks / WEITERE</span></div>
          <div style="float:left;"><img src="gfx/icon.gif" alt="" /></div>
          <div style="float:left;">{10 + n:02d}.03.2016 - 1{n}:22 <br />
            <div class="thread_user">von: Nutzer {n}</div></div>
          <div style="float:right;"><a href="/forum/Notebooks/t{n}/Seite/1#9{n}">Zum letzten Beitrag</a></div>
        </div>"""
        for n in range(4)
    )
    page = f'<html lang="de"><body><div id="newest_threads">{threads}</div></body></html>'
    items = parse_html(page).cssselect("div.thread")
    fields, _ = find_fields(items, ("de",))
    assert fields["date"].css == "div.thread > div:nth-of-type(3)"
    assert [item.cssselect(fields["date"].css)[0].text.split()[0] for item in items] == [
        f"{10 + n:02d}.03.2016" for n in range(4)
    ]


def test_the_canonical_link_names_the_pages_own_site() -> None:
    """Read from another address, the release notes on the site's forum host still link into
    the page's own site, as its canonical link says; without it the section links win."""
    body, expected = fixture("game-home-br-run")
    found = discover(body, LOCAL)
    assert found.item == "a.HomeLink2" and found.items == len(expected["items"])
    links = [item.link for item in propose(found, LOCAL, body).items]
    assert links == [e["link"] for e in expected["items"]]
    anonymous = re.sub(rb'<link rel="canonical"[^>]*>', b"", body)
    assert discover(anonymous, LOCAL).item != found.item


def test_a_date_range_is_dated_by_its_first_day() -> None:
    events = "".join(
        f'<li class="event"><h3><a href="/events/e{n}">Spring Market Number {n}</a></h3>'
        f'<div class="dates">{when}</div></li>'
        for n, when in enumerate(
            ["March 19 - 20, 2016", "March 30 - April 2, 2016", "March 18, 2016"]
        )
    )
    page = f'<html lang="en"><body><ul class="events">{events}</ul></body></html>'
    items = propose(
        discover(page, "https://city.example/events"), "https://city.example/events", page
    )
    assert [i.published.date().isoformat() for i in items.items] == [
        "2016-03-19",
        "2016-03-30",
        "2016-03-18",
    ]
    assert all(i.published <= datetime.now(UTC) for i in items.items)


def releases(shown: list[str]) -> str:
    """A release list as code hosts print it: this year's days without a year."""
    rows = "".join(
        f'<div class="release"><h2><a href="/app/releases/tag/v1.{9 - n}">Version 1.{9 - n}'
        f" of the app</a></h2><p>Fixes and changes of this release.</p>"
        f'<span class="when">{text}</span></div>'
        for n, text in enumerate(shown)
    )
    return f'<html lang="en"><body><main><div class="releases">{rows}</div></main></body></html>'


def test_days_without_a_year_are_dated_by_the_dated_items_below_them() -> None:
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=n) for n in (2, 20, 45, 400)]
    shown = [f"{d:%b} {d.day}" for d in days[:2]] + [f"{d:%b} {d.day}, {d.year}" for d in days[2:]]
    url = "https://code.example/app/releases"
    items = propose(discover(releases(shown), url), url, releases(shown)).items
    assert [i.published.date() if i.published else None for i in items] == days


def test_days_without_a_year_and_nothing_dated_below_are_reported() -> None:
    today = datetime.now(UTC).date()
    shown = [f"{d:%b} {d.day}" for d in (today - timedelta(days=n) for n in (2, 20, 45))]
    url = "https://code.example/app/releases"
    items = propose(discover(releases(shown), url), url, releases(shown)).items
    assert [i.published for i in items] == [None, None, None]
    assert all(i.date_problem.startswith("no year: ") for i in items)


def advisories(rows: list[tuple[str, str]]) -> str:
    """A security-release table: name (linked to its advisory), what it covers, the day."""
    cells = "".join(
        f'<tr><td><a class="anchor" href="/en-gb/{link}">{name}</a></td>'
        f"<td><p>Devices of this release</p></td><td><p>{18 - n} Mar 2026</p></td></tr>"
        for n, (name, link) in enumerate(rows)
    )
    head = "<thead><tr><th>Name and information link</th><th>Available for</th>"
    return (
        f'<html lang="en-GB"><body><main><table>{head}<th>Release date</th></tr></thead>'
        f"<tbody>{cells}</tbody></table></main></body></html>"
    )


def test_rows_sharing_a_link_are_kept_apart_by_their_titles() -> None:
    rows = [("Browser 26.4", "126792"), ("Car Kit Plug-in R18.1", "122403")]
    rows += [("Audio SDK 2.7.1", "122403"), ("Watch OS 12.4", "126790")]
    url = "https://support.example/en-gb/100100"
    found = discover(advisories(rows), url)
    assert found.fields["id"] == found.fields["title"]
    block = propose(found, url, advisories(rows))
    assert "\nid = " in block.block.split("[topics.sources.selectors]")[0]
    assert [(i.title, i.published.day) for i in block.items] == [
        (name, 18 - n) for n, (name, _) in enumerate(rows)
    ]


def test_a_list_repeating_an_item_gets_no_id() -> None:
    rows = [("Browser 26.4", "126792"), ("Watch OS 12.4", "126790"), ("Browser 26.4", "126792")]
    url = "https://support.example/en-gb/100100"
    found = discover(advisories(rows), url)
    assert "id" not in found.fields
    assert [i.title for i in propose(found, url, advisories(rows)).items] == [
        "Browser 26.4",
        "Watch OS 12.4",
    ]


def marked_up_page() -> str:
    """A newsroom page: five posts marked up as schema.org BlogPostings in microdata, beside
    a longer box of the most-read stories of the whole site (not marked up)."""
    posts = "".join(
        f'<div class="teaser" itemscope itemtype="http://schema.org/BlogPosting">'
        f'<h3 itemprop="headline"><a href="/blog/2024/05/post-{n}">Port budget vote number {n}'
        f'</a></h3><link itemprop="url" href="/blog/2024/05/post-{n}" />'
        f'<p itemprop="description">What the council decided and what it means.</p></div>'
        for n in range(5)
    )
    read = "".join(
        f'<div class="entry"><h3><a href="/stories/2023/{n}/story-{n}">A story many people'
        f" read, number {n}</a></h3><p>From the archive of the newsroom.</p></div>"
        for n in range(12)
    )
    return (
        f'<html lang="en"><body><div class="col-a">{posts}</div>'
        f'<div class="col-b"><h2>Most read</h2>{read}</div></body></html>'
    )


def test_schema_org_microdata_names_the_list() -> None:
    url = "https://news.example/blog/"
    page = marked_up_page()
    assert microdata_links(parse_html(page), url) == {
        f"https://news.example/blog/2024/05/post-{n}" for n in range(5)
    }
    found = discover(page, url)
    assert found.item == "div.teaser" and found.items == 5
    assert any("schema.org" in reason for reason in found.reasons)
    plain = re.sub(r' itemscope itemtype="[^"]+"', "", page)
    assert discover(plain, url).item != found.item  # the longer box wins without it


def test_a_link_made_of_blocks_is_titled_by_its_first_block() -> None:
    """A procurement list whose link holds the title, the notice number and the class code."""
    rows = "".join(
        f'<tr class="lst-rw"><td class="lst-cl"><a class="lst-lnk-notice" '
        f'href="?s=opportunity&amp;mode=form&amp;id=a{n}f3&amp;tab=core">'
        f'<div class="solt">VALVE,LINEAR {n} </div><div class="soln">SPE7M{n}16T0042 </div>'
        f'<div class="solcc">48 -- Valves </div></a></td>'
        f'<td class="lst-cl">Defense Logistics Agency</td><td class="lst-cl">Mar {10 - n}, 2016</td></tr>'
        for n in range(4)
    )
    page = f'<html lang="en"><body><div id="content"><table class="list">{rows}</table></div></body></html>'
    url = "https://procure.example/index?s=opportunity&mode=list"
    items = propose(discover(page, url), url, page).items
    assert [i.title for i in items] == [f"VALVE,LINEAR {n}" for n in range(4)]


def release_entry(version: str, day: str) -> str:
    notes = " ".join(
        f"<li>Fixes how the router resolves nested routes when a page is reloaded "
        f'(<a class="issue-link" href="/app/app/pull/{4800 + n}">#{4800 + n}</a>)</li>'
        for n in range(6)
    )
    return f"""<div class="release-entry"><div class="release clearfix">
      <div class="release-meta"><ul><li><a class="muted-link" href="/app/app/tree/{version}">{version}</a></li>
      <li><a href="/app/app/commit/5f221b4"><code>5f221b4</code></a></li></ul></div>
      <div class="release-main-section"><div class="release-header"><div class="f1">
        <a href="/app/app/releases/tag/{version}">{version}</a></div>
        <p class="f5"><a href="/maintainer"><img class="avatar" src="/a.png" alt="@maintainer"></a>
        released this <relative-time datetime="{day}T10:00:00Z">{day}</relative-time>
        · <a href="/app/app/compare/{version}...dev">19 commits</a> to dev since this release</p></div>
      <div class="markdown-body"><h2>Bug fixes</h2><ul>{notes}</ul></div>
      <details><summary>Assets</summary><ul>
        <li><a href="/app/app/archive/{version}.zip">Source code (zip)</a></li>
        <li><a href="/app/app/archive/{version}.tar.gz">Source code (tar.gz)</a></li></ul></details>
      </div></div></div>"""


def test_releases_inside_a_container_named_like_navigation_are_titled_by_their_tag() -> None:
    """A code host's releases: the whole content sits in a "container ...-nav" (a class of
    an experiment, not a menu); each release's title is its tag, named like its address."""
    versions = [("v3.4.2", "2024-01-30"), ("v3.4.0", "2024-01-28"), ("v3.3.9", "2023-12-11")]
    versions += [("v3.3.8", "2023-11-27"), ("v3.3.7", "2023-11-02")]
    entries = "".join(release_entry(v, d) for v, d in versions)
    page = (
        '<html lang="en"><body><div class="application-main" role="main">'
        '<div class="container-lg new-discussion-timeline experiment-repo-nav">'
        f'<div class="repository-content"><div class="position-relative">{entries}'
        "</div></div></div></div></body></html>"
    )
    url = "https://code.example/app/app/releases"
    found = discover(page, url)
    items = propose(found, url, page).items
    assert [(i.title, i.link) for i in items] == [
        (v, f"https://code.example/app/app/releases/tag/{v}") for v, _ in versions
    ]


def test_items_split_over_siblings_read_their_date_after_the_item() -> None:
    """A town's notices as a definition list (the date in the dd after each dt), and a
    German news page of headings each followed by its paragraph and its date."""
    notices = "".join(
        f'<dt><a href="/notices/{slug}">{title}</a></dt><dd class="meta">Posted {day}</dd>'
        f"<dd>What changes for residents, where and for how long, in a few words.</dd>"
        for slug, title, day in [
            ("road-works", "Road works on Harbour Street", "12 March 2024"),
            ("library-hours", "New opening hours at the library", "5 March 2024"),
            ("water-supply", "Water supply interruption in the east", "28 February 2024"),
        ]
    )
    page = f'<html lang="en"><body><main><dl class="notices">{notices}</dl></main></body></html>'
    url = "https://town.example/notices/"
    found = discover(page, url)
    assert found.item == "dl.notices > dt"
    assert found.fields["date"].toml() == '{ css = "dd.meta", following = true }'
    items = propose(found, url, page).items
    assert [i.published.date().isoformat() for i in items] == [
        "2024-03-12",
        "2024-03-05",
        "2024-02-28",
    ]
    news = "".join(
        f'<h3><a href="/meldungen/{slug}">{title}</a></h3>'
        f"<p>Was sich ändert, für wen und ab wann, in wenigen Sätzen erklärt.</p>"
        f'<p class="datum">{day}</p>'
        for slug, title, day in [
            ("radwege", "Neue Radwege im Norden der Stadt", "12. März 2024"),
            ("schwimmbad", "Das Schwimmbad ist wieder offen", "5. März 2024"),
            ("markt", "Der Wochenmarkt zieht auf den Domplatz", "28. Februar 2024"),
        ]
    )
    page = f'<html lang="de"><body><div id="content">{news}</div></body></html>'
    url = "https://stadt.example/meldungen/"
    found = discover(page, url)
    assert found.fields["date"].toml() == '{ css = "p.datum", following = true }'
    items = propose(found, url, page).items
    assert [(i.published.date().isoformat(), i.summary_text[:8]) for i in items] == [
        ("2024-03-12", "Was sich"),
        ("2024-03-05", "Was sich"),
        ("2024-02-28", "Was sich"),
    ]


def test_a_following_selector_stops_at_the_next_item() -> None:
    page = (
        '<dl><dt><a href="/a">First notice of the town</a></dt><dd>No date here</dd>'
        '<dt><a href="/b">Second notice of the town</a></dt><dd class="meta">5 March 2024</dd></dl>'
    )
    chosen = Selectors(
        item="dl > dt",
        title=(Selector("a"),),
        link=(Selector("a"),),
        date=(Selector("dd.meta", following=True),),
    )
    assert [raw.date_text for raw in extract(page, chosen)] == ["", "5 March 2024"]
