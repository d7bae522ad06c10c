"""`feedsvc discover` through the real CLI, on fixture pages of every markup family.

Each page is served by a real HTTP server on 127.0.0.1; the block discover prints must pass
`feedsvc check`, and an ingest with it must store at least 80% of the hand-written expected
items with their titles, links and dates.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from conftest import FAST_INGEST, FIXTURES, PAGES, PageServer
from test_config import feedsvc
from test_families import fill

from feedsvc.keys import FeedKey
from feedsvc.store import Store

DISCOVER = FIXTURES / "discover"
BAR = 0.8
# The bundled captures of the institute's page keep their expected items as a bare list.
INSTITUTE = "https://www.rand.org/topics/security-cooperation.html"
FAMILIES = {
    "rand-2015": (PAGES / "rand-2015.html", PAGES / "rand-2015.expected.json"),
    "rand-2024": (PAGES / "rand-2024.html", PAGES / "rand-2024.expected.json"),
    "other-site": (PAGES / "other-site.html", DISCOVER / "other-site.expected.json"),
    **{
        path.stem: (path, path.with_suffix(".expected.json"))
        for path in sorted(DISCOVER.glob("*.html"))
    },
    # issue 9's golden families too: every markup family the tests hold (the podcast series
    # page, whose episodes all link the one series page, gets an `id` from discover).
    **{
        f"family-{path.stem}": (path, path.with_suffix(".expected.json"))
        for path in sorted((FIXTURES / "families").glob("*.html"))
    },
}


def expectations(path: Path, page: str, server: PageServer) -> tuple[str, list[dict]]:
    """The page's original path and its expected items, relative links moved to the server."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if "source" in data:  # a golden family (test_families.py): served as its test serves it
        zone = re.search(r'timezone = "([^"]+)"', data["source"])
        local = ZoneInfo(zone.group(1)) if zone else UTC  # discover cannot know the zone: a day
        listed = [
            {
                "title": i["title"],
                "link": fill(i["link"], server),
                # the exact instant where the page gives one, else the day in the source's zone
                "date": i.get("published")
                and [
                    i["published"],
                    datetime.fromisoformat(i["published"]).astimezone(local).date().isoformat(),
                ],
            }
            for i in data["items"]
        ]
        return f"/listing/{path.name.removesuffix('.expected.json')}.html", listed
    url, items = (INSTITUTE, data) if isinstance(data, list) else (data["url"], data["items"])
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    for item in items:
        if item["link"].startswith(origin + "/") and f'href="{item["link"]}"' not in page:
            item["link"] = server.base + item["link"][len(origin) :]
    return urlsplit(url).path, items


def matches(expected: dict, stored) -> bool:
    """Title, link and date as a person reads them on the page (any of the dates listed)."""
    if " ".join(stored.title.split()) != " ".join(expected["title"].split()):
        return False
    dates = expected.get("date")
    if dates is None:
        return True
    return any(
        stored.published == datetime.fromisoformat(date).astimezone(UTC)
        if "T" in date
        else stored.published.date().isoformat() == date
        for date in (dates if isinstance(dates, list) else [dates])
    )


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_discover_proposes_a_source_that_extracts_the_page(
    family: str, server: PageServer, tmp_path: Path
) -> None:
    page_path, expected_path = FAMILIES[family]
    path, expected = expectations(expected_path, page_path.read_text(encoding="utf-8"), server)
    server.serve(path, page_path.read_bytes())

    found = feedsvc(
        "--config", str(tmp_path / "none.toml"), "discover", server.url(path), cwd=tmp_path
    )
    assert found.returncode == 0, found.stderr
    assert "\n[[topics.sources]]\nurl = " in "\n" + found.stdout
    assert "[topics.sources.selectors]" in found.stdout and "# Preview:" in found.stdout

    config = tmp_path / "config.toml"
    config.write_text(
        f'[service]\ndatabase = "sqlite:///feeds.sqlite3"\nbase_url = "http://feeds.test"\n'
        f"[ingest]\n{FAST_INGEST}\n"
        f'[[topics]]\nslug = "found"\ntitle = "Found"\n\n{found.stdout}',
        encoding="utf-8",
    )
    checked = feedsvc("--config", str(config), "check", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    ingested = feedsvc("--config", str(config), "ingest", cwd=tmp_path)
    assert ingested.returncode == 0, ingested.stdout + ingested.stderr

    store = Store(f"sqlite:///{tmp_path / 'feeds.sqlite3'}")
    try:
        stored = store.entries(FeedKey(topic="found"), 500)
    finally:
        store.close()
    # items may share a link (a series page's episodes): each is told apart by its title
    good = [e for e in expected if any(s.link == e["link"] and matches(e, s) for s in stored)]
    missed = [e["title"] for e in expected if e not in good]
    assert len(good) >= BAR * len(expected), f"{family}: missed {missed}\n{found.stdout}"


def test_discover_reads_a_file_and_keeps_the_url_it_is_given(tmp_path: Path) -> None:
    page = DISCOVER / "wordpress-list.html"
    url = "https://northernsecurity.example/category/analysis/"
    found = feedsvc("discover", url, "--file", str(page), cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    assert f'url = "{url}"' in found.stdout
    assert "#      https://northernsecurity.example/2024/03/05/the-arctic-council-after-2022/" in (
        found.stdout
    )
    assert not (tmp_path / "var").exists()  # discover stores nothing


def test_discover_says_what_it_tried_when_the_page_has_no_list(
    server: PageServer, tmp_path: Path
) -> None:
    menu_only = b"""<!DOCTYPE html><html><body>
    <nav class="main-menu"><ul><li><a href="/a">About the organisation and its people</a></li>
    <li><a href="/b">Research programmes and their reports</a></li>
    <li><a href="/c">Contact us and find our offices</a></li></ul></nav>
    <main><h1>Welcome</h1><p>Nothing is listed here yet.</p></main>
    <footer><ul><li><a href="/t">Terms and conditions of this website</a></li>
    <li><a href="/p">Privacy policy and cookie settings</a></li></ul></footer></body></html>"""
    server.serve("/empty.html", menu_only)
    found = feedsvc("discover", server.url("/empty.html"), cwd=tmp_path)
    assert found.returncode == 1
    assert found.stdout == ""
    assert "found no list of items" in found.stderr
    assert "outside nav, header, footer and menus" in found.stderr
    assert "JSON-LD" in found.stderr


def test_candidates_are_ranked_by_evidence_and_pick_writes_another(tmp_path: Path) -> None:
    """A comments widget with more links than the post list loses on evidence: the posts
    have dates, headings and a place in <main>; the widget sits in an <aside>."""
    page = DISCOVER / "german-blog-widgets.html"
    url = "https://nordblick.example/category/analyse/"
    listed = feedsvc("discover", url, "--file", str(page), "--candidates", "2", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    first, second = listed.stdout.split("\n2. ")
    assert first.startswith("1. item = 'article.post.type-post': 6 items, score ")
    assert "100% have a date" in first and "(main content)" in first
    assert second.startswith("item = 'li.recentcomments'") and "(sidebar, widget, cloud)" in second
    assert "   - Neue Wege in der Hafenpolitik der Ostsee  <" in first

    picked = feedsvc("discover", url, "--file", str(page), "--pick", "2", cwd=tmp_path)
    assert picked.returncode == 0, picked.stderr
    assert 'item = "li.recentcomments"' in picked.stdout
    too_far = feedsvc("discover", url, "--file", str(page), "--pick", "9", cwd=tmp_path)
    assert too_far.returncode == 1 and "--pick 9" in too_far.stderr


@pytest.mark.parametrize(
    "names",
    [
        "event-grid-name",  # starts with "even": a stable name all the same
        "post-title",
    ],
)
def test_stable_class_names_are_kept(names: str) -> None:
    from feedsvc.discover.fields import UNSTABLE_CLASS

    assert not UNSTABLE_CLASS.search(names)


@pytest.mark.parametrize(
    "names", ["undefined", "ng-star-inserted", "css-1x2y3z", "sc-bdVaJa", "odd", "is-active"]
)
def test_generated_and_state_class_names_are_left_out(names: str) -> None:
    from feedsvc.discover.fields import UNSTABLE_CLASS

    assert UNSTABLE_CLASS.search(names)


def test_the_pages_own_feed_is_offered_first(tmp_path: Path) -> None:
    """A page that links its feed: discover says so before its selectors, with a block of
    kind = "feed" that the config loader takes as it is."""
    page = DISCOVER / "german-blog-widgets.html"
    url = "https://nordblick.example/category/analyse/"
    found = feedsvc("discover", url, "--file", str(page), cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    offer, _, block = found.stdout.partition("\n\n")
    assert offer.startswith("# The page links its own feed")
    assert block.startswith("[[topics.sources]]\n")
    assert "# (also linked: https://nordblick.example/comments/feed/)" in offer
    feed_block = "\n".join(
        line.removeprefix("# ")
        for line in offer.splitlines()
        if line.startswith("# [[") or line.startswith(("# url", "# kind"))
    )
    assert 'url = "https://nordblick.example/category/analyse/feed/"' in feed_block
    config = tmp_path / "config.toml"
    config.write_text(
        '[service]\ndatabase = "sqlite:///feeds.sqlite3"\nbase_url = "http://feeds.test"\n'
        f'[[topics]]\nslug = "found"\ntitle = "Found"\n\n{feed_block}\n',
        encoding="utf-8",
    )
    checked = feedsvc("--config", str(config), "check", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
