"""`fetch = "browser"`: pages whose list a script builds, rendered in Debian's headless Chromium
(through Playwright) from a real server on 127.0.0.1, every request routed through feedsvc's
fetcher and its address guard.

`make test` installs chromium (as root) and Playwright (the test extra); where either is
missing these tests skip and say why.
"""

from __future__ import annotations

import importlib.util
import json
import sqlite3
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import ROBOTS_PATH, PageServer, Reply, send
from lxml import html
from sqlalchemy.engine import make_url

from feedsvc.cli.main import main
from feedsvc.config import Config, IngestConfig, load
from feedsvc.extract import fingerprint
from feedsvc.fetch import browser
from feedsvc.fetch.browser import BROWSERS, CHROMIUM, BrowserError, render
from feedsvc.fetch.client import Fetcher, FetchError, make_fetcher, user_agent
from feedsvc.fetch.dial import Dialer
from feedsvc.fetch.guard import RefusedURL, source_guard
from feedsvc.ingest.backfill import backfill
from feedsvc.jobs.cycle import run_cycle, targets
from feedsvc.keys import FeedKey
from feedsvc.store import Store
from tests.support.config import write_config
from tests.support.pages import validated

FIXTURES = Path(__file__).parent / "fixtures" / "browser"
TOPIC = "harbours"
JS = {"Content-Type": "application/javascript"}
JSON = {"Content-Type": "application/json; charset=UTF-8"}
QUICK = IngestConfig(timeout_seconds=5, host_delay_seconds=0, backoff_seconds=0.01)

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"needs Debian's chromium at {CHROMIUM} (make test installs it when run as root)",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None,
        reason="needs Playwright: pip install 'feedsvc[browser]' (the test extra has it)",
    ),
]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def browser_config(folder: Path, url: str, source: str, ingest: str = "") -> Config:
    """A config with one `fetch = "browser"` source whose selectors are `source`."""
    source = f'fetch = "browser"\n{source}'
    return load(write_config(folder, {TOPIC: url}, ingest, source, preset=None))


NEXT_SOURCE = """
  wait_for = "article.post-card"
  [topics.sources.selectors]
  item = "article.post-card"
  title = "h2 a"
  link = { css = "h2 a", attr = "href" }
  date = { css = "time", attr = "datetime" }
  type = ".post-card__type"
  summary = ".post-card__excerpt"
"""


# no wait_for: the browser waits until the network is quiet
REACT_SOURCE = """
  [topics.sources.selectors]
  item = "li.publication"
  title = "a.publication__link"
  link = { css = "a.publication__link", attr = "href" }
  date = ".publication__date"
  summary = ".publication__excerpt"
"""


@pytest.fixture
def next_site(server: PageServer) -> str:
    """A Next.js-style page: an empty #__next, the posts in __NEXT_DATA__, a bundle renders them."""
    server.serve("/newsroom", fixture("next-newsroom.html"))
    server.serve("/_next/static/chunks/main-3f2ab1.js", fixture("next-main.js"), headers=JS)
    server.serve(
        "/_next/static/css/app.css", b"main{display:block}", headers={"Content-Type": "text/css"}
    )
    return server.url("/newsroom")


def ingest_once(store: Store, config: Config) -> list:
    fetcher = make_fetcher(config)
    try:
        return run_cycle(store, fetcher, config, targets(config))
    finally:
        fetcher.close()


@pytest.fixture
def store_of() -> Iterator[Callable[[Config], Store]]:
    opened: list[Store] = []

    def open_for(config: Config) -> Store:
        store = Store(config.service.database)
        store.create_schema()
        opened.append(store)
        return store

    yield open_for
    for store in opened:
        store.close()


def stored(store: Store, config: Config) -> list[tuple[str, str, str]]:
    """(title, link, published) of every stored item, newest first."""
    entries = store.entries(FeedKey(TOPIC), 50)
    return [(e.title, e.link, e.published.isoformat() if e.published else "") for e in entries]


def test_a_list_built_from_an_inline_json_blob_is_read_after_the_script_ran(
    tmp_path: Path, server: PageServer, next_site: str, store_of
) -> None:
    config = browser_config(tmp_path, next_site, NEXT_SOURCE)
    store = store_of(config)
    [report] = ingest_once(store, config)
    assert report.ok and report.new == 3, report.line()
    assert stored(store, config) == [
        (
            "Ports and Power: Who Runs the Harbours",
            server.url("/newsroom/ports-and-power-2024"),
            "2024-05-02T09:00:00+00:00",
        ),
        (
            "Grain Corridors After the Strait Closure",
            server.url("/newsroom/grain-corridors"),
            "2024-04-18T14:30:00+00:00",
        ),
        (
            "The Fisheries Data Gap",
            server.url("/newsroom/fisheries-data-gap"),
            "2024-03-29T08:15:00+00:00",
        ),
    ]
    paths = [path for path, _ in server.requests]
    assert "/_next/static/chunks/main-3f2ab1.js" in paths  # the bundle came through our fetcher
    assert all(p.endswith((".js", ".css")) or p == "/newsroom" for p in paths), paths
    assert not [p for p in paths if p.startswith("/images/") or p.endswith(".woff2")]
    assert all(h["User-Agent"].startswith("feedsvc/") for _, h in server.requests)
    assert server.robots_requests  # robots.txt was asked before the page


def test_the_same_page_over_http_yields_no_items(
    tmp_path: Path, server: PageServer, next_site: str, store_of
) -> None:
    """Why the browser is there: the server's HTML holds an empty root element."""
    config = browser_config(
        tmp_path, next_site, NEXT_SOURCE.replace('wait_for = "article.post-card"', "")
    )
    path = config.path
    path.write_text(path.read_text().replace('fetch = "browser"', 'fetch = "http"'))
    http_config = load(path)
    [report] = ingest_once(store_of(http_config), http_config)
    assert not report.ok and 'no items matched item selector "article.post-card"' in report.error


def test_a_list_the_script_fetches_from_a_json_api(
    tmp_path: Path, server: PageServer, store_of
) -> None:
    server.serve("/publications", fixture("react-shell.html"))
    server.serve("/static/js/main.8c1f2e7a.js", fixture("react-main.js"), headers=JS)
    server.serve("/wp-json/wp/v2/posts?per_page=3", fixture("wp-posts.json"), headers=JSON)
    source = 'headers = { "Cookie" = "consent=yes" }' + REACT_SOURCE
    config = browser_config(tmp_path, server.url("/publications"), source)
    store = store_of(config)
    [report] = ingest_once(store, config)
    assert report.ok and report.new == 3, report.line()
    titles = [title for title, _, _ in stored(store, config)]
    assert titles == [
        "Tidal Energy Permits, State by State",
        "Who Insures the Coast? \u2013 A Primer",
        "The Dredging Backlog",
    ]
    api = [h for p, h in server.requests if p.startswith("/wp-json/")]
    assert len(api) == 1 and api[0]["User-Agent"].startswith("feedsvc/")
    sent = {name.lower(): value for name, value in api[0].items()}
    assert sent["accept"] == "application/json"  # as the page's script asked
    assert all(h["Cookie"] == "consent=yes" for _, h in server.requests)  # the source's profile


def test_check_fetch_and_preview_read_a_browser_source(
    tmp_path: Path, next_site: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = browser_config(tmp_path, next_site, NEXT_SOURCE)
    assert main(["--config", str(config.path), "check", "--fetch"]) == 0
    assert f"{TOPIC}:1 {next_site}: 3 items" in capsys.readouterr().out
    assert main(["--config", str(config.path), "preview", "--topic", TOPIC, "--json"]) == 0
    titles = [i["title"] for i in json.loads(capsys.readouterr().out)["sources"][0]["items"]]
    assert titles[0] == "Ports and Power: Who Runs the Harbours" and len(titles) == 3


def test_a_request_to_a_forbidden_address_is_refused_before_any_connection(
    server: PageServer,
) -> None:
    """The page's script, frame and XHR aim at a second 127.0.0.1 port that the test marks
    forbidden: nothing reaches it, each refusal is reported, the rest of the page renders."""
    forbidden = PageServer()
    try:
        port = forbidden.httpd.server_address[1]
        page = fixture("reaches-out.html").replace(b"FORBIDDEN_PORT", str(port).encode())
        server.serve("/briefings", page)
        server.serve("/api/briefings.json", fixture("briefings.json"), headers=JSON)
        dialer = Dialer(forbidden={("127.0.0.1", port)})  # no packet may reach it
        fetcher = Fetcher(QUICK, agent=user_agent("http://feeds.test"), dialer=dialer)
        try:
            rendered = render(fetcher, server.url("/briefings"), wait_for="article.briefing")
        finally:
            fetcher.close()
        assert forbidden.history == [] and forbidden.requests == []
        refused = {note.split()[2].rstrip(":") for note in rendered.notes if "is forbidden" in note}
        assert refused == {
            f"{forbidden.base}/tracker.js",
            f"{forbidden.base}/frame.html",
            f"{forbidden.base}/latest/meta-data/iam/security-credentials/",
        }, rendered.notes
        articles = html.fromstring(rendered.body).cssselect("article.briefing h3 a")
        assert [a.text for a in articles] == [
            "Briefing: Arctic Shipping Lanes",
            "Briefing: Undersea Cables",
        ]
    finally:
        forbidden.close()


def test_a_page_of_a_public_source_may_not_reach_internal_addresses() -> None:
    """IP literals only: the guard decides without a lookup and nothing is sent anywhere."""
    guard = source_guard("http://93.184.215.14/news")
    guard("http://93.184.215.15/app.js")  # another public host (a CDN) is fine
    for url in (
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:8080/",
        "http://10.0.0.5/",
    ):
        with pytest.raises(RefusedURL, match="address"):
            guard(url)
    with pytest.raises(RefusedURL, match="only http"):
        guard("file:///etc/passwd")


def test_a_page_that_never_settles_is_reported_and_the_last_good_feed_kept(
    tmp_path: Path, server: PageServer, next_site: str, store_of
) -> None:
    config = browser_config(tmp_path, next_site, NEXT_SOURCE, "browser_timeout_seconds = 2\n")
    store = store_of(config)
    [first] = ingest_once(store, config)
    assert first.ok and first.new == 3, first.line()
    before = stored(store, config)
    feed = store.rendered(FeedKey(TOPIC), "rss", 50).body
    server.serve("/newsroom", fixture("never-settles.html"))
    started = time.monotonic()
    [report] = ingest_once(store, config)
    assert time.monotonic() - started < 15
    assert report.error == "browser: timed out after 2 s waiting for `article.post-card`"
    assert stored(store, config) == before
    assert store.rendered(FeedKey(TOPIC), "rss", 50).body == feed
    status = store.source(TOPIC, next_site)
    assert status.last_error == report.error and status.last_success_at is not None
    assert any(p.startswith("/api/poll") for p, _ in server.requests)  # it did keep polling


def test_one_browser_serves_every_page_and_closes_when_idle(
    server: PageServer, next_site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    BROWSERS.close()
    monkeypatch.setattr(browser, "IDLE_SECONDS", 0.5)
    launches = BROWSERS.launches
    fetcher = Fetcher(QUICK, agent=user_agent("http://feeds.test"))
    try:
        for _ in range(2):
            page = render(fetcher, next_site, wait_for="article.post-card")
            assert page.body.count(b"<article") == 3
            assert BROWSERS.pids()
    finally:
        fetcher.close()
    assert BROWSERS.launches == launches + 1
    deadline = time.monotonic() + 10
    while BROWSERS.pids() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not BROWSERS.pids()


def test_discover_says_an_app_shell_needs_the_browser_then_reads_it_with_one(
    server: PageServer, next_site: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["discover", next_site]) == 1
    said = capsys.readouterr().err
    assert 'the page looks built by JavaScript: an empty root element <div id="__next">' in said
    assert 'json = "script#__NEXT_DATA__"' in said and 'fetch = "browser"' in said
    assert main(["discover", next_site, "--fetch", "browser"]) == 0
    block = capsys.readouterr().out
    assert 'fetch = "browser"\nwait_for = "' in block
    assert "Ports and Power: Who Runs the Harbours" in block
    assert "Grain Corridors After the Strait Closure" in block
    source = tomllib.loads(block)["topics"]["sources"][0]
    assert source["wait_for"] == source["selectors"]["item"]


@pytest.mark.parametrize("concurrency", [1, 2])
def test_browser_concurrency_bounds_the_pages_open_at_once(
    server: PageServer, concurrency: int
) -> None:
    """Each page's script asks /api/slow, which the server holds for 1.5 s: with one page
    at a time those requests never overlap, with two they do."""
    lock, open_now, most = threading.Lock(), [0], [0]

    def slow(handler) -> None:
        with lock:
            open_now[0] += 1
            most[0] = max(most[0], open_now[0])
        time.sleep(1.5)
        with lock:
            open_now[0] -= 1
        send(handler, Reply(b'{"ok": true}', headers=JSON))

    page = b"<html><body><script>fetch('/api/slow').then(function () { document.body.innerHTML = '<p class=done>done</p>'; });</script></body></html>"
    for name in ("/a", "/b"):
        server.serve(name, page)
    server.routes["/api/slow"] = slow
    BROWSERS.close()
    settings = replace(QUICK, browser_concurrency=concurrency)
    results: list[bytes] = []

    def one(path: str) -> None:
        fetcher = Fetcher(settings, agent=user_agent("http://feeds.test"))
        try:
            results.append(render(fetcher, server.url(path), wait_for="p.done").body)
        finally:
            fetcher.close()

    threads = [threading.Thread(target=one, args=(path,)) for path in ("/a", "/b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    BROWSERS.close()
    assert len(results) == 2 and all(b'class="done"' in body for body in results)
    assert most[0] == concurrency


def quick_render(url: str, **settings: object) -> object:
    fetcher = Fetcher(replace(QUICK, **settings), agent=user_agent("http://feeds.test"))
    try:
        return render(fetcher, url, wait_for="article.post-card")
    finally:
        fetcher.close()


def test_redirects_are_followed_and_counted(server: PageServer, next_site: str) -> None:
    server.serve("/old-newsroom", b"", status=301, headers={"Location": "/newsroom"})
    rendered = quick_render(server.url("/old-newsroom"))
    assert rendered.url == next_site  # links on the page resolve against where it ended
    assert html.fromstring(rendered.body).cssselect("article.post-card")
    with pytest.raises(FetchError, match=r"too many redirects \(more than 0\)"):
        quick_render(server.url("/old-newsroom"), max_redirects=0)


def test_a_rendered_page_over_max_bytes_is_refused(server: PageServer) -> None:
    grows = b"<html><body><script>document.body.innerHTML = '<article class=\"post-card\">' + 'x'.repeat(50000) + '</article>';</script></body></html>"
    server.serve("/grows", grows)
    with pytest.raises(
        BrowserError, match=r"the rendered page holds \d+ bytes, more than the 20000-byte cap"
    ):
        quick_render(server.url("/grows"), max_bytes=20_000)


def test_robots_txt_is_asked_for_what_the_page_loads(server: PageServer, next_site: str) -> None:
    server.serve(
        ROBOTS_PATH, b"User-agent: *\nDisallow: /_next/\n", headers={"Content-Type": "text/plain"}
    )
    with pytest.raises(
        BrowserError, match=r"timed out after 2 s waiting for `article\.post-card`"
    ):  # the bundle was refused, so the list never came
        quick_render(next_site, browser_timeout_seconds=2)
    assert "main-3f2ab1.js" not in str([path for path, _ in server.requests])


def test_backfill_reads_older_pages_through_the_browser(
    tmp_path: Path, server: PageServer, next_site: str, store_of
) -> None:
    older = fixture("next-newsroom.html")
    for new, old in (
        (b"ports-and-power-2024", b"harbour-history-1"),
        (b"grain-corridors", b"harbour-history-2"),
        (b"fisheries-data-gap", b"harbour-history-3"),
    ):
        older = older.replace(new, old)
    older = older.replace(b"2024-0", b"2019-0")
    server.serve("/newsroom?page=2", older)
    config = browser_config(tmp_path, next_site, NEXT_SOURCE)
    store = store_of(config)
    [report] = ingest_once(store, config)
    assert report.ok and report.new == 3
    fetcher = make_fetcher(config)
    try:
        summary = backfill(store, fetcher, config, TOPIC, config.topics[0].sources[0])
    finally:
        fetcher.close()
    assert (summary.pages_read, summary.items_new, summary.done) == (1, 3, True), summary.line()
    assert summary.oldest.date().isoformat() == "2019-03-29"
    assert "/newsroom?page=3" in [path for path, _ in server.requests]  # 404: the last page


def test_a_page_whose_data_is_in_its_document_is_asked_conditionally(
    tmp_path: Path, server: PageServer, next_site: str, store_of
) -> None:
    """The list is in __NEXT_DATA__: a 304 for the document means nothing changed, so the
    render is skipped (no bundle asked for, no browser needed) and reported as over HTTP."""
    modified = "Thu, 02 May 2024 09:00:00 GMT"
    shell = Reply(
        fixture("next-newsroom.html"),
        headers={"Content-Type": "text/html", "ETag": '"n1"', "Last-Modified": modified},
    )
    server.routes["/newsroom"] = validated(shell)
    config = browser_config(tmp_path, next_site, NEXT_SOURCE)
    store = store_of(config)
    [first] = ingest_once(store, config)
    assert first.ok and first.new == 3, first.line()
    before = len(server.requests)
    launches = BROWSERS.launches
    [again] = ingest_once(store, config)
    assert again.outcome == "not-modified", again.line()
    [(path, sent)] = server.requests[before:]  # the document only, answered 304
    assert path == "/newsroom"
    assert (sent["If-None-Match"], sent["If-Modified-Since"]) == ('"n1"', modified)
    assert BROWSERS.launches == launches
    changed = fixture("next-newsroom.html").replace(b"The Fisheries Data Gap", b"Fish Counts")
    server.routes["/newsroom"] = validated(
        Reply(changed, headers={"Content-Type": "text/html", "ETag": '"n2"'})
    )
    [third] = ingest_once(store, config)
    assert third.ok and third.outcome == "fetched" and third.updated == 1, third.line()
    assert "Fish Counts" in [title for title, _, _ in stored(store, config)]


def test_a_page_whose_data_its_script_loads_is_rendered_every_time(
    tmp_path: Path, server: PageServer, store_of
) -> None:
    """The shell never changes (and says so with its ETag), the API behind it does: the
    shell's validators are not kept, so the next run renders again and finds the new post."""
    shell = Reply(fixture("react-shell.html"), headers={"Content-Type": "text/html", "ETag": '"s"'})
    server.routes["/publications"] = validated(shell)
    server.serve("/static/js/main.8c1f2e7a.js", fixture("react-main.js"), headers=JS)
    posts = json.loads(fixture("wp-posts.json"))
    server.serve("/wp-json/wp/v2/posts?per_page=3", json.dumps(posts[1:]).encode(), headers=JSON)
    config = browser_config(tmp_path, server.url("/publications"), REACT_SOURCE)
    store = store_of(config)
    [first] = ingest_once(store, config)
    assert first.ok and first.new == 2, first.line()
    server.serve("/wp-json/wp/v2/posts?per_page=3", json.dumps(posts).encode(), headers=JSON)
    [again] = ingest_once(store, config)
    assert again.ok and again.new == 1, again.line()
    documents = [h for p, h in server.requests if p == "/publications"]
    assert len(documents) == 2 and "If-None-Match" not in documents[1]


def test_a_page_takes_one_turn_per_host_and_keeps_the_next_visit_a_delay_away(
    server: PageServer,
) -> None:
    """host_delay_seconds = 0.8: the page's own scripts and XHR share one turn on its host;
    its first request to another host waits that host's turn; and a fetch after
    the render comes a full delay after the page's last request to the host."""
    delay = 0.8
    other = PageServer()
    try:
        page = (
            b"<html><body><script src='/one.js'></script><script src='/two.js'></script>"
            b"<script src='" + other.url("/widget.js").encode() + b"'></script>"
            b"<script>fetch('/api/list.json').then(function (r) { return r.json(); })"
            b".then(function (l) { document.body.innerHTML = l.map(function (t) {"
            b" return '<article class=item>' + t + '</article>'; }).join(''); });</script>"
            b"</body></html>"
        )
        server.serve("/page", page)
        for name in ("/one.js", "/two.js"):
            server.serve(name, b"window.loaded = (window.loaded || 0) + 1;", headers=JS)
        other.serve("/widget.js", b"window.widget = true;", headers=JS)
        server.serve("/api/list.json", b'["first", "second"]', headers=JSON)
        server.serve("/after", b"<html></html>")
        other.serve("/warm", b"<html></html>")
        fetcher = Fetcher(replace(QUICK, host_delay_seconds=delay), agent=user_agent("http://t"))
        try:
            fetcher.fetch(other.url("/warm"), guard=source_guard(other.base))
            rendered = render(fetcher, server.url("/page"), wait_for="article.item")
            fetcher.fetch(server.url("/after"), guard=source_guard(server.base))
        finally:
            fetcher.close()
        assert html.fromstring(rendered.body).cssselect("article.item")
        at = {path: when for when, path in server.history}
        loads = sorted(at[p] for p in ("/one.js", "/two.js", "/api/list.json"))
        assert loads[-1] - loads[0] < delay  # none waited a turn of its own (else >= 2 delays)
        assert at["/page"] - at[ROBOTS_PATH] >= delay - 0.05  # the document waited its turn
        assert at["/after"] - loads[-1] >= delay - 0.05  # the render's last request counts
        elsewhere = {path: when for when, path in other.history}  # its robots.txt is kept
        assert elsewhere["/widget.js"] - elsewhere["/warm"] >= delay - 0.05  # its own turn
    finally:
        other.close()


def test_a_browser_source_stored_before_conditional_get_is_rendered_again_once(
    tmp_path: Path, server: PageServer, store_of, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The version before kept a rendered shell's Last-Modified whatever the page loaded:
    after the upgrade such a source is read again once (`reextracted`), not answered 304
    for ever while the API behind the shell changes."""
    modified = "Mon, 06 May 2024 10:00:00 GMT"
    shell = Reply(
        fixture("react-shell.html"),
        headers={"Content-Type": "text/html", "Last-Modified": modified},
    )
    server.routes["/publications"] = validated(shell)
    server.serve("/static/js/main.8c1f2e7a.js", fixture("react-main.js"), headers=JS)
    posts = json.loads(fixture("wp-posts.json"))
    server.serve("/wp-json/wp/v2/posts?per_page=3", json.dumps(posts[1:]).encode(), headers=JSON)
    config = browser_config(tmp_path, server.url("/publications"), REACT_SOURCE)
    store = store_of(config)
    monkeypatch.setattr(fingerprint, "BROWSER_VALIDATORS", None)  # the fingerprint before
    [first] = ingest_once(store, config)
    assert first.ok and first.new == 2, first.line()
    with closing(sqlite3.connect(make_url(config.service.database).database)) as db, db:
        db.execute("UPDATE sources SET last_modified = ?", (modified,))  # as it was kept
    monkeypatch.undo()
    server.serve("/wp-json/wp/v2/posts?per_page=3", json.dumps(posts).encode(), headers=JSON)
    [again] = ingest_once(store, config)
    assert again.outcome == "reextracted" and again.new == 1, again.line()
    [_, asked] = [h for p, h in server.requests if p == "/publications"]
    assert "If-Modified-Since" not in asked
