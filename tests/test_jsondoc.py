"""`kind = "json"`: JSON endpoints and JSON inside pages read with JMESPath selectors, served
from 127.0.0.1 and ingested for real; discover proposes the block for a JSON URL."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from conftest import FAST_INGEST, PageServer

from feedsvc.cli.main import main
from feedsvc.config import Config, ConfigError, load
from feedsvc.fetch.client import make_fetcher
from feedsvc.jobs.cycle import run_cycle, targets
from feedsvc.keys import FeedKey
from feedsvc.store import Store
from tests.support.config import write_config

FIXTURES = Path(__file__).parent / "fixtures"
TOPIC = "harbours"
JSON = {"Content-Type": "application/json; charset=UTF-8"}


def json_config(folder: Path, url: str, source: str, ingest: str = "") -> Path:
    """A config with one `kind = "json"` source whose selectors are `source`."""
    return write_config(folder, {TOPIC: url}, ingest, f'kind = "json"\n{source}', preset=None)


def ingested(config: Config) -> tuple[list, list[tuple]]:
    """One ingest; its reports and the stored items as (title, link, published, summary,
    type label, author, image)."""
    store = Store(config.service.database)
    store.create_schema()
    fetcher = make_fetcher(config)
    try:
        reports = run_cycle(store, fetcher, config, targets(config))
        entries = store.entries(FeedKey(TOPIC), 50)
    finally:
        fetcher.close()
        store.close()
    rows = [
        (
            e.title,
            e.link,
            e.published.isoformat() if e.published else None,
            e.summary_html,
            e.type_label,
            e.author,
            e.image_url,
        )
        for e in entries
    ]
    return reports, rows


WORDPRESS = """
  [topics.sources.selectors]
  item = "@"
  title = "title.rendered"
  link = "link"
  date = "date_gmt"
  summary = "excerpt.rendered"
"""


def test_a_wordpress_json_endpoint(tmp_path: Path, server: PageServer) -> None:
    server.serve(
        "/wp-json/wp/v2/posts", (FIXTURES / "browser" / "wp-posts.json").read_bytes(), headers=JSON
    )
    config = load(json_config(tmp_path, server.url("/wp-json/wp/v2/posts"), WORDPRESS))
    [report], rows = ingested(config)
    assert report.ok and report.new == 3, report.line()
    assert [row[:4] for row in rows] == [
        (
            "Tidal Energy Permits, State by State",
            server.url("/2024/06/tidal-energy-permits/"),  # resolved against the source URL
            "2024-06-11T08:00:00+00:00",
            "<p>Permitting takes from six months to four years.</p>",
        ),
        (
            "Who Insures the Coast? \u2013 A Primer",  # &#8211; read as text
            server.url("/2024/05/coastal-insurance/"),
            "2024-05-28T14:45:00+00:00",
            "<p>Premiums rose 40% in three years.</p>",
        ),
        (
            "The Dredging Backlog",
            server.url("/2024/05/dredging-backlog/"),
            "2024-05-02T07:00:00+00:00",
            "<p>Half the channels are below charted depth.</p>",
        ),
    ]


def test_table_selectors_keep_pattern_format_and_fallbacks(
    tmp_path: Path, server: PageServer
) -> None:
    """A headless CMS (Strapi's shape): nested attributes, a link or only a slug, German
    day-first dates, a list of authors, an item without a title (skipped, reported)."""
    server.serve(
        "/api/articles", (FIXTURES / "json" / "strapi-articles.json").read_bytes(), headers=JSON
    )
    source = """
  [topics.sources.selectors]
  item = "data[].attributes"
  title = "headline"
  link = ["url", { path = "slug", pattern = "^([a-z0-9-]+)$" }]
  date = { path = "publishedOn", format = "%d.%m.%Y" }
  type = "category.data.attributes.name"
  summary = "teaser"
  image = "cover.data.attributes.url"
  author = "authors[].name"
"""
    # one draft in three has no title: more than the default 20 % would read as breakage
    ingest = "max_incomplete_ratio = 0.4\n"
    config = load(json_config(tmp_path, server.url("/api/articles"), source, ingest))
    [report], rows = ingested(config)
    assert report.ok and report.new == 2 and report.skipped == 1, report.line()
    assert rows == [
        (
            "Port State Control, Explained",
            "https://www.harbour-policy.test/explainers/port-state-control",
            "2024-06-11T00:00:00+00:00",
            "<p>Who inspects a ship, and why.</p>",
            "Explainer",
            "Mara Lind",
            server.url("/uploads/psc_4b1e.jpg"),
        ),
        (
            "Ballast Water Rules in 2024",
            server.url("/api/ballast-water-2024"),
            "2024-05-28T00:00:00+00:00",
            "<p>What changed in September.</p>",
            "Other",  # no category: typed by the rules, else "other"
            None,
            None,
        ),
    ]


def test_json_inside_a_page_next_data(tmp_path: Path, server: PageServer) -> None:
    server.serve("/newsroom", (FIXTURES / "browser" / "next-newsroom.html").read_bytes())
    source = """
  json = "script#__NEXT_DATA__"
  [topics.sources.selectors]
  item = "props.pageProps.posts"
  title = "title"
  link = "join('', ['/newsroom/', slug])"
  date = "date"
  type = "type"
  summary = "excerpt"
  image = "image.src"
"""
    config = load(json_config(tmp_path, server.url("/newsroom"), source))
    [report], rows = ingested(config)
    assert report.ok and report.new == 3, report.line()
    assert [(r[0], r[1], r[2], r[4]) for r in rows] == [
        (
            "Ports and Power: Who Runs the Harbours",
            server.url("/newsroom/ports-and-power-2024"),
            "2024-05-02T09:00:00+00:00",
            "Report",
        ),
        (
            "Grain Corridors After the Strait Closure",
            server.url("/newsroom/grain-corridors"),
            "2024-04-18T14:30:00+00:00",
            "Commentary",
        ),
        (
            "The Fisheries Data Gap",
            server.url("/newsroom/fisheries-data-gap"),
            "2024-03-29T08:15:00+00:00",
            "Report",
        ),
    ]
    assert [path for path, _ in server.requests] == ["/newsroom"]  # no script was run


def test_a_json_ld_item_list_in_a_page(tmp_path: Path, server: PageServer) -> None:
    """Two JSON-LD blocks: the Organization yields no item, the ItemList yields two."""
    server.serve("/reports", (FIXTURES / "json" / "itemlist.html").read_bytes())
    source = """
  json = 'script[type="application/ld+json"]'
  [topics.sources.selectors]
  item = "itemListElement[].item"
  title = "name"
  link = "url"
  date = "datePublished"
  author = ["author.name", "author[0].name"]
"""
    config = load(json_config(tmp_path, server.url("/reports"), source))
    [report], rows = ingested(config)
    assert report.ok and report.new == 2, report.line()
    assert [(r[0], r[1], r[2], r[5]) for r in rows] == [
        (
            "Harbour Dues Compared",
            server.url("/reports/harbour-dues"),
            "2024-04-02T00:00:00+00:00",
            "Eva Strand",
        ),
        (
            "Pilotage & Safety",
            server.url("/reports/pilotage-safety"),
            "2024-02-19T00:00:00+00:00",
            "Ola Berg",
        ),
    ]


def test_a_broken_json_document_keeps_the_last_good_feed(
    tmp_path: Path, server: PageServer
) -> None:
    posts = (FIXTURES / "browser" / "wp-posts.json").read_bytes()
    server.serve("/wp-json/wp/v2/posts", posts, headers=JSON)
    config = load(json_config(tmp_path, server.url("/wp-json/wp/v2/posts"), WORDPRESS))
    [first], rows = ingested(config)
    assert first.ok
    server.serve("/wp-json/wp/v2/posts", posts[:-40], headers=JSON)
    [report], after = ingested(config)
    assert report.error.startswith("extract: the document is not valid JSON (")
    assert after == rows
    server.serve("/wp-json/wp/v2/posts", b'{"code":"rest_no_route"}', headers=JSON)
    [report], after = ingested(config)
    assert report.error.startswith(  # an error object in place of the list
        'normalize: none of the 1 items had a title and a link; title selector "title.rendered"'
    )
    assert after == rows


@pytest.mark.parametrize(
    ("selectors", "key", "problem"),
    [
        (
            'item = "data[?"\ntitle = "t"\nlink = "l"',
            "selectors.item",
            "invalid JMESPath expression",
        ),
        ('item = "data"\nlink = "l"', "selectors.title", "missing; expected a JMESPath expression"),
        (
            'item = "data"\ntitle = { path = "a.[" }\nlink = "l"',
            "selectors.title.path",
            "invalid JMESPath expression",
        ),
    ],
)
def test_a_bad_jmespath_names_its_key(
    tmp_path: Path, selectors: str, key: str, problem: str
) -> None:
    path = json_config(
        tmp_path, "http://127.0.0.1:9/api", f"  [topics.sources.selectors]\n{selectors}"
    )
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert caught.value.key == f"topics[0].sources[0].{key}"
    assert caught.value.problem.startswith(problem), caught.value.problem


def test_discover_on_a_json_url_proposes_a_block_that_ingests(
    tmp_path: Path, server: PageServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.serve(
        "/wp-json/wp/v2/posts", (FIXTURES / "browser" / "wp-posts.json").read_bytes(), headers=JSON
    )
    url = server.url("/wp-json/wp/v2/posts")
    assert main(["discover", url]) == 0
    block = capsys.readouterr().out
    source = tomllib.loads(block)["topics"]["sources"][0]
    assert source["kind"] == "json" and source["selectors"] == {
        "item": "@",
        "title": "title.rendered",
        "link": "link",
        "date": "date_gmt",
        "summary": "excerpt.rendered",
    }
    assert "#   2. Who Insures the Coast? \u2013 A Primer" in block
    path = tmp_path / "config.toml"  # the block as proposed, pasted under a topic
    path.write_text(
        '[service]\ndatabase = "sqlite:///var/feedsvc.sqlite3"\nbase_url = "http://feeds.test"\n'
        f'[ingest]\n{FAST_INGEST}\n[[topics]]\nslug = "{TOPIC}"\ntitle = "Harbours"\n\n{block}',
        encoding="utf-8",
    )
    [report], rows = ingested(load(path))
    assert report.ok and report.new == 3
    assert rows[1][0] == "Who Insures the Coast? \u2013 A Primer"
