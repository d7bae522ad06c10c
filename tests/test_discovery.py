"""Discovery: topic pages, OPML and the stylesheet that makes feeds readable in a browser."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import pytest
from conftest import TOPIC_PATH, PageServer, page, write_config
from flask.testing import FlaskClient
from lxml import etree, html

from feedsvc.config import Config, load
from feedsvc.fetch.client import make_fetcher
from feedsvc.formats import FORMATS, MEDIA_TYPES, static_url
from feedsvc.jobs.cycle import prepare, run_cycle, targets
from feedsvc.keys import FeedKey
from feedsvc.publish.gather import feed_doc
from feedsvc.publish.render import render_atom, render_rss, with_stylesheet
from feedsvc.store import Store
from feedsvc.web import create_app

TOPIC = "security-cooperation"
EMPTY = "empty-topic"  # configured, but its source never answers: no items, no types
BASE = "http://feeds.test"
XML_TYPES = {"rss": "application/rss+xml", "atom": "application/atom+xml"}
CHROMIUM_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
FEEDPARSER_ACCEPT = feedparser.http.ACCEPT_HEADER
BROWSER = {"Accept": CHROMIUM_ACCEPT, "Sec-Fetch-Dest": "document", "Sec-Fetch-Mode": "navigate"}


@pytest.fixture
def two_topics(tmp_path: Path, server: PageServer) -> Config:
    """Security Cooperation with both captures ingested, and a topic that never got an item."""
    empty_topic = f"""
[[topics]]
slug = "{EMPTY}"
title = "Empty Topic"

  [[topics.sources]]
  url = "{server.url("/missing.html")}"
  preset = "rand-topic"
"""
    server.serve(TOPIC_PATH, page("rand-2015.html"))
    config = load(write_config(tmp_path, server.url(TOPIC_PATH), extra=empty_topic))
    store = Store(config.service.database)
    store.create_schema()
    fetcher = make_fetcher(config)
    try:
        run_cycle(store, fetcher, config, targets(config))
        server.serve(TOPIC_PATH, page("rand-2024.html"))
        run_cycle(store, fetcher, config, targets(config))
    finally:
        fetcher.close()
        store.close()
    return config


@pytest.fixture
def client(two_topics: Config) -> FlaskClient:
    return create_app(two_topics).test_client()


@pytest.fixture
def store(two_topics: Config):
    st = Store(two_topics.service.database)
    yield st
    st.close()


def local(url: str) -> str:
    """The path and query of a public URL, for the test client."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == BASE, url
    return parts.path + (f"?{parts.query}" if parts.query else "")


def types_in_topic(store: Store, topic: str) -> set[str]:
    """The types of a topic's items, read through the feed query rather than the new one."""
    return {item.type_slug for item in store.entries(FeedKey(topic=topic), 10_000)}


def alternates(document: str) -> list[dict[str, str]]:
    """Every <link rel="alternate"> of an HTML page, as attribute dicts."""
    return [
        dict(link.attrib) for link in html.fromstring(document).xpath("//link[@rel='alternate']")
    ]


def assert_feed_answers(client: FlaskClient, url: str, media_type: str) -> None:
    """The URL answers 200 with that media type and, for XML, a feed feedparser reads cleanly."""
    response = client.get(local(url), headers={"Accept": FEEDPARSER_ACCEPT})
    assert response.status_code == 200, url
    assert response.mimetype == media_type, url
    if media_type in XML_TYPES.values():
        parsed = feedparser.parse(response.data)
        assert not parsed.bozo, (url, parsed.get("bozo_exception"))


# -- topic pages and the index ---------------------------------------------------------------


def test_topic_page_lists_every_feed_of_the_topic_in_every_format(
    client: FlaskClient, store: Store
) -> None:
    types = types_in_topic(store, TOPIC)
    assert len(types) >= 3
    response = client.get(f"/topics/{TOPIC}/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    links = alternates(response.text)
    expected_paths = {f"topics/{TOPIC}"} | {f"topics/{TOPIC}/types/{t}" for t in types}
    assert len(links) == len(expected_paths) * len(FORMATS)
    assert {local(link["href"]).rsplit("/feed.", 1)[0].strip("/") for link in links} == (
        expected_paths
    )
    labels = store.type_labels()
    for link in links:
        fmt = link["href"].rsplit(".", 1)[1]
        media_type = MEDIA_TYPES[fmt].split(";")[0]
        assert link["type"] == media_type
        assert_feed_answers(client, link["href"], media_type)
        type_slug = (
            link["href"].split("/types/")[1].split("/")[0] if "/types/" in link["href"] else None
        )
        assert link["title"].startswith("Security Cooperation")
        if type_slug:
            assert labels[type_slug] in link["title"]
        assert link["title"].endswith(
            {"rss": "(RSS)", "atom": "(Atom)", "json": "(JSON Feed)"}[fmt]
        )
    # The body links the same feeds a person can click.
    body_links = html.fromstring(response.text).xpath("//main//a/@href")
    assert {link["href"] for link in links} <= set(body_links)


def test_a_topic_lists_only_the_types_it_has(client: FlaskClient, store: Store) -> None:
    assert types_in_topic(store, EMPTY) == set()
    links = alternates(client.get(f"/topics/{EMPTY}/").text)
    assert [local(link["href"]) for link in links] == [
        f"/topics/{EMPTY}/feed.{fmt}" for fmt in FORMATS
    ]
    assert store.topic_types(EMPTY) == []
    assert set(store.topic_types(TOPIC)) == types_in_topic(store, TOPIC)


def test_topic_types_is_read_from_the_topic_type_index(store: Store) -> None:
    with store.engine.connect() as conn:
        plan = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT DISTINCT type_slug FROM topic_items WHERE topic = ?",
            (TOPIC,),
        ).all()
    assert "USING COVERING INDEX ix_topic_items_type_" in " ".join(str(row) for row in plan)


def test_index_links_each_topic_page_and_every_feed(client: FlaskClient, store: Store) -> None:
    document = html.fromstring(client.get("/").text)
    hrefs = set(document.xpath("//main//a/@href"))
    for slug in (TOPIC, EMPTY):
        assert f"{BASE}/topics/{slug}/" in hrefs
        assert client.get(f"/topics/{slug}/").status_code == 200
    every_type = set(store.type_labels())
    wanted = {f"topics/{TOPIC}", f"topics/{EMPTY}"}
    wanted |= {f"topics/{TOPIC}/types/{t}" for t in types_in_topic(store, TOPIC)}
    wanted |= {f"types/{t}" for t in every_type}
    assert {f"{BASE}/{path}/feed.{fmt}" for path in wanted for fmt in FORMATS} <= hrefs
    assert f"{BASE}/feeds.opml" in hrefs


@pytest.mark.parametrize("path", ["/topics/nope/", "/topics/nope/feeds.opml"])
def test_unknown_topic_is_a_one_line_404(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404 and response.mimetype == "text/plain"
    assert response.text == (
        f"404 Not Found: unknown topic 'nope'; expected one of: {EMPTY}, {TOPIC}\n"
    )


# -- OPML -------------------------------------------------------------------------------------


def opml_outlines(body: bytes) -> list[etree._Element]:
    """The feed outlines of an OPML 2.0 document, checked against the spec's required parts."""
    root = etree.fromstring(body)
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title")
    feeds = root.xpath("//outline[@xmlUrl]")
    for outline in feeds:
        assert outline.get("type") == "rss" and outline.get("text")
        assert outline.get("htmlUrl", "").startswith("http")
    for folder in root.xpath("//outline[not(@xmlUrl)]"):
        assert folder.get("text") and len(folder) > 0  # a folder always holds feeds
        assert folder.get("title") is None  # W3C validator: a title needs a type
    return feeds


def test_opml_lists_every_feed_once_and_each_answers(client: FlaskClient, store: Store) -> None:
    response = client.get("/feeds.opml")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/x-opml; charset=utf-8"
    outlines = opml_outlines(response.data)
    urls = [outline.get("xmlUrl") for outline in outlines]
    wanted = {f"topics/{TOPIC}", f"topics/{EMPTY}"}
    wanted |= {f"topics/{TOPIC}/types/{t}" for t in types_in_topic(store, TOPIC)}
    wanted |= {f"types/{t}" for t in store.type_labels()}
    digests = {f"{BASE}/topics/{t}/digest/weekly.atom" for t in (TOPIC, EMPTY)}
    assert sorted(urls) == sorted({f"{BASE}/{path}/feed.atom" for path in wanted} | digests)
    for url in urls:
        assert_feed_answers(client, url, "application/atom+xml")
        titles = {o.get("text") for o in outlines if o.get("xmlUrl") == url}
        parsed = feedparser.parse(client.get(local(url)).data)
        assert titles == {parsed.feed.title}


def test_topic_opml_lists_that_topics_feeds(client: FlaskClient, store: Store) -> None:
    response = client.get(f"/topics/{TOPIC}/feeds.opml")
    assert response.headers["Content-Type"] == "text/x-opml; charset=utf-8"
    outlines = opml_outlines(response.data)
    wanted = {f"topics/{TOPIC}"} | {
        f"topics/{TOPIC}/types/{t}" for t in types_in_topic(store, TOPIC)
    }
    assert sorted(o.get("xmlUrl") for o in outlines) == sorted(
        [f"{BASE}/{path}/feed.atom" for path in wanted]
        + [f"{BASE}/topics/{TOPIC}/digest/weekly.atom"]
    )
    for outline in outlines:
        assert_feed_answers(client, outline.get("xmlUrl"), "application/atom+xml")
        assert outline.get("htmlUrl").endswith(TOPIC_PATH)  # the topic's source page
    empty = opml_outlines(client.get(f"/topics/{EMPTY}/feeds.opml").data)
    assert [o.get("xmlUrl") for o in empty] == [
        f"{BASE}/topics/{EMPTY}/feed.atom",
        f"{BASE}/topics/{EMPTY}/digest/weekly.atom",
    ]


def test_opml_sets_do_not_overlap(client: FlaskClient, store: Store) -> None:
    """?set=topics and ?set=types list feeds no item is in twice (newsboat #898)."""
    topics = opml_outlines(client.get("/feeds.opml?set=topics").data)
    assert sorted(o.get("xmlUrl") for o in topics) == sorted(
        f"{BASE}/topics/{t}/{name}.atom"
        for t in (TOPIC, EMPTY)
        for name in ("feed", "digest/weekly")
    )
    types = opml_outlines(client.get("/feeds.opml?set=types").data)
    assert sorted(o.get("xmlUrl") for o in types) == sorted(
        f"{BASE}/types/{t}/feed.atom" for t in store.type_labels()
    )
    for outline in types:
        assert_feed_answers(client, outline.get("xmlUrl"), "application/atom+xml")
    bad = client.get("/feeds.opml?set=everything")
    assert bad.status_code == 400 and b"set must be one of: all, topics, types" in bad.data


def test_index_page_says_which_opml_to_pick(client: FlaskClient) -> None:
    page = client.get("/").data.decode()
    for url in ("/feeds.opml?set=topics", "/feeds.opml?set=types", "/feeds.opml"):
        assert f'href="{BASE}{url}"' in page
    assert "pick this one to follow whole topics" in page


def test_opml_answers_conditional_get(client: FlaskClient) -> None:
    first = client.get("/feeds.opml")
    again = client.get("/feeds.opml", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


# -- the stylesheet in every XML feed ---------------------------------------------------------


def every_feed(store: Store) -> list[FeedKey]:
    keys = [FeedKey(topic=TOPIC), FeedKey(topic=EMPTY)]
    for type_slug in store.type_labels():
        keys += [FeedKey(type=type_slug), FeedKey(topic=TOPIC, type=type_slug)]
    return keys


def test_every_xml_feed_names_the_stylesheet_after_the_declaration(
    client: FlaskClient, store: Store
) -> None:
    for key in every_feed(store):
        for fmt, media_type in XML_TYPES.items():
            body = client.get(f"/{key.path}/feed.{fmt}").data
            declaration, pi, _body = body.split(b"\n", 2)
            assert declaration.startswith(b"<?xml version=")
            assert pi == b'<?xml-stylesheet type="text/xsl" href="/static/feed.xsl"?>'
            parsed = feedparser.parse(body)
            assert not parsed.bozo, (key, fmt, parsed.get("bozo_exception"))
            assert parsed.version == {"rss": "rss20", "atom": "atom10"}[fmt]
            assert client.get(f"/{key.path}/feed.{fmt}").mimetype == media_type
        assert b"xml-stylesheet" not in client.get(f"/{key.path}/feed.json").data


def test_the_stylesheet_only_adds_the_instruction(two_topics: Config, store: Store) -> None:
    doc = feed_doc(store, two_topics, FeedKey(topic=TOPIC), 50)
    bare = dataclasses.replace(doc, stylesheet_url=None)
    for render in (render_rss, render_atom):
        styled, plain = render(doc), render(bare)
        assert b"xml-stylesheet" not in plain
        assert (
            styled.replace(b'<?xml-stylesheet type="text/xsl" href="/static/feed.xsl"?>\n', b"")
            == plain
        )
        styled_entries = feedparser.parse(styled).entries
        assert styled_entries == feedparser.parse(plain).entries and len(styled_entries) == 43


def test_with_stylesheet_handles_a_document_without_declaration() -> None:
    assert with_stylesheet(b"<rss/>", "/s/feed.xsl") == (
        b'<?xml-stylesheet type="text/xsl" href="/s/feed.xsl"?>\n<rss/>'
    )
    assert with_stylesheet(b"<rss/>", None) == b"<rss/>"


def test_static_files_are_served(client: FlaskClient) -> None:
    xsl = client.get("/static/feed.xsl")
    assert xsl.status_code == 200
    etree.XSLT(etree.fromstring(xsl.data))  # a valid XSLT stylesheet
    assert client.get("/static/style.css").mimetype == "text/css"


def test_stylesheet_urls_keep_the_base_url_path(tmp_path: Path, server: PageServer) -> None:
    assert static_url("https://example.org/feeds/", "feed.xsl") == "/feeds/static/feed.xsl"
    assert static_url("http://127.0.0.1:8000", "style.css") == "/static/style.css"
    server.serve(TOPIC_PATH, page("rand-2024.html"))
    path = write_config(tmp_path, server.url(TOPIC_PATH))
    path.write_text(path.read_text().replace(BASE, "https://example.org/feeds"))
    prepare(load(path))
    app = create_app(load(path)).test_client()
    body = app.get(f"/topics/{TOPIC}/feed.atom").data
    assert b'href="/feeds/static/feed.xsl"' in body.split(b"\n")[1]
    view = app.get(f"/topics/{TOPIC}/feed.atom", headers=BROWSER).text
    assert 'href="/feeds/static/style.css"' in view
    assert 'href="/feeds/static/style.css"' in app.get("/").text


# -- what a browser gets ----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_a_browser_tab_gets_the_feed_as_a_page(client: FlaskClient, store: Store, fmt: str) -> None:
    path = f"/topics/{TOPIC}/feed.{fmt}"
    response = client.get(path, headers=BROWSER)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert {"Accept", "Sec-Fetch-Dest"} <= set(response.vary)
    document = html.fromstring(response.data)
    stored = store.entries(FeedKey(topic=TOPIC), 50)
    assert document.xpath("//ol[@class='entries']/li/h2/a/text()") == [i.title for i in stored]
    assert document.xpath("//ol[@class='entries']/li/h2/a/@href") == [i.link for i in stored]
    assert document.xpath("//span[@class='type']/text()") == [i.type_label for i in stored]
    captions = document.xpath("//figure/figcaption/text()")
    assert captions == [i.image_caption for i in stored if i.image_url]
    note = document.xpath("string(//p[@class='note'])")
    assert "copy this URL into your feed reader" in note and f"{BASE}{path}" in note
    again = client.get(path, headers={**BROWSER, "If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Accept": FEEDPARSER_ACCEPT},
        {"Accept": "*/*"},
        {"Accept": CHROMIUM_ACCEPT},  # browser-like Accept, but no document navigation
        {"Accept": "application/atom+xml", "Sec-Fetch-Dest": "document"},
    ],
)
def test_feed_readers_get_the_raw_feed(client: FlaskClient, headers: dict[str, str]) -> None:
    response = client.get(f"/topics/{TOPIC}/feed.atom", headers=headers)
    assert response.mimetype == "application/atom+xml"
    assert {"Accept", "Sec-Fetch-Dest", "Accept-Encoding"} <= set(response.vary)
    assert not feedparser.parse(response.data).bozo


def test_a_browser_tab_gets_json_feed_as_json(client: FlaskClient) -> None:
    response = client.get(f"/topics/{TOPIC}/feed.json", headers=BROWSER)
    assert response.mimetype == "application/feed+json"
