"""Corrections take effect: a fixed selector re-extracts an unchanged page that answers 304.

A real HTTP server on 127.0.0.1 serves a Drupal listing with a strong ETag and answers a
matching If-None-Match with 304, as real sites do; the config is corrected between runs.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from conftest import TOPIC_PATH, PageServer, Reply, page, send, write_config
from test_config import feedsvc
from test_families import family_config

from feedsvc.config import load
from feedsvc.keys import FeedKey
from feedsvc.store import Store
from feedsvc.web import create_app

TOPIC = "security-cooperation"
PATH = "/listing/drupal.html"
# The first, too-broad try: the promo teaser passes, titles keep the "Read" button text.
BROAD = ('  link_pattern = "/(research|commentary)/"\n', "")
WHOLE_TITLE = (
    'title = { css = ".teaser__title", exclude = ".teaser__action" }',
    'title = ".teaser__title"',
)


def serve_with_validators(server: PageServer, path: str) -> None:
    """The page with a strong ETag; a request that names it gets 304 and no body."""
    body = server.routes[path].body  # type: ignore[union-attr]
    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'

    def answer(handler: BaseHTTPRequestHandler) -> None:
        if handler.headers.get("If-None-Match") == etag:
            send(handler, Reply(b"", 304, {"ETag": etag}))
            return
        send(handler, Reply(body, 200, {"Content-Type": "text/html; charset=utf-8", "ETag": etag}))

    server.routes[path] = answer


def broad_config(tmp_path: Path, server: PageServer) -> tuple[Path, str]:
    """The Drupal family's config as first written (too broad), and its corrected text."""
    config_path, _ = family_config(tmp_path, server, "drupal")
    serve_with_validators(server, PATH)
    fixed = config_path.read_text(encoding="utf-8")
    config_path.write_text(fixed.replace(*BROAD).replace(*WHOLE_TITLE), encoding="utf-8")
    return config_path, fixed


def ingest_lines(config_path: Path) -> list[str]:
    done = feedsvc("--config", str(config_path), "ingest", cwd=config_path.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.splitlines()


def stored(config_path: Path) -> dict[str, object]:
    store = Store(load(config_path).service.database)
    try:
        return {item.guid: item for item in store.entries(FeedKey(topic=TOPIC), 100)}
    finally:
        store.close()


def test_a_fixed_selector_takes_effect_on_a_page_that_answers_304(
    tmp_path: Path, server: PageServer
) -> None:
    config_path, fixed = broad_config(tmp_path, server)
    url = server.url(PATH)
    [first] = ingest_lines(config_path)
    assert first.startswith(f"{TOPIC} {url}: fetched new=4")
    [again] = ingest_lines(config_path)
    assert again.startswith(f"{TOPIC} {url}: not-modified")  # the site's 304
    before = stored(config_path)
    assert any(item.title.endswith("Read") for item in before.values())

    config_path.write_text(fixed, encoding="utf-8")
    [corrected] = ingest_lines(config_path)
    [after_fix] = ingest_lines(config_path)

    assert corrected.startswith(f"{TOPIC} {url}: reextracted new=0 updated=")
    after = stored(config_path)
    assert set(after) == set(before)  # same guids; the promo stays until it is hidden
    arctic = next(guid for guid, item in after.items() if "Arctic" in item.title)
    assert after[arctic].title == "Arctic Security After the Thaw"
    assert after[arctic].updated > before[arctic].updated
    assert after[arctic].published == before[arctic].published
    assert after_fix.startswith(f"{TOPIC} {url}: not-modified")  # once, then 304 again
    conditional = [headers.get("If-None-Match") for _, headers in server.requests]
    assert conditional[1] and conditional[3] and conditional[2] is None


def test_an_unchanged_config_keeps_conditional_get(tmp_path: Path, server: PageServer) -> None:
    config_path, fixed = broad_config(tmp_path, server)
    config_path.write_text(fixed, encoding="utf-8")
    ingest_lines(config_path)
    # Only a comment and the order of keys change: what shapes extraction is the same.
    text = fixed.replace('  timezone = "America/New_York"\n', "")
    text = text.replace(
        "  [topics.sources.selectors]",
        '  timezone = "America/New_York"\n  # ok\n  [topics.sources.selectors]',
    )
    config_path.write_text(text, encoding="utf-8")

    assert ": not-modified " in ingest_lines(config_path)[0]
    assert "If-None-Match" in server.requests[-1][1]


def served(config_path: Path, url: str) -> dict | None:
    """A JSON Feed document as a reader fetches it now (a fresh worker: no cached copy)."""
    answer = create_app(load(config_path)).test_client().get(url)
    return answer.get_json() if answer.status_code == 200 else None


def ids(document: dict | None) -> list[str]:
    return [entry["id"] for entry in document["items"]] if document else []


def test_hide_and_unhide_re_render_feeds_archives_and_digests(
    tmp_path: Path, server: PageServer
) -> None:
    config_path = write_config(tmp_path, server.url(TOPIC_PATH), "[feeds]\narchive_page_size = 5\n")
    server.serve(TOPIC_PATH, page("rand-2015.html"))
    assert ingest_lines(config_path)[0].split(": ")[1].startswith("fetched new=21")
    archive = {n: f"/topics/{TOPIC}/archive/{n}.json" for n in range(1, 6)}
    before = {n: served(config_path, url) for n, url in archive.items()}
    hidden = ids(before[2])[0]  # the 6th item to join the topic's feed
    kind = next(e for e in before[2]["items"] if e["id"] == hidden)["url"].split("/")[3]
    feeds = [f"/topics/{TOPIC}/feed.json", f"/topics/{TOPIC}/digest/weekly.json"]
    assert all(hidden in json.dumps(served(config_path, url)) for url in feeds)

    done = feedsvc("--config", str(config_path), "hide", hidden, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert f"hide: {hidden}" in done.stdout
    after = {n: served(config_path, url) for n, url in archive.items()}
    assert after[1] == before[1]  # the page before the hidden item is not touched
    assert ids(after[2]) == ids(before[2])[1:] + ids(before[3])[:1]  # re-cut where it sat
    everything = [i for n in range(1, 6) for i in ids(after[n])]
    assert len(everything) == 20 and hidden not in everything
    assert after[5] is None  # 20 items fill four pages: the fifth is gone
    assert all(hidden not in json.dumps(served(config_path, url)) for url in feeds)
    type_feed = served(config_path, f"/topics/{TOPIC}/types/{_type_of(kind)}/feed.json")
    assert type_feed is not None and hidden not in ids(type_feed)
    exported = (tmp_path / "var" / "public").rglob("feed.json")
    assert all(hidden.encode() not in path.read_bytes() for path in exported)

    listed = feedsvc("--config", str(config_path), "items", "--topic", TOPIC, "--json")
    states = {item["guid"]: item["hidden"] for item in json.loads(listed.stdout)["items"]}
    assert states[hidden] is True and sum(states.values()) == 1 and len(states) == 21

    server.serve(TOPIC_PATH, page("rand-2015.html") + b"<!-- served again -->")
    [again] = ingest_lines(config_path)
    assert " new=0 " in again  # seen again, still stored: never new, still hidden
    assert hidden not in ids(served(config_path, f"/topics/{TOPIC}/feed.json"))

    restored = feedsvc("--config", str(config_path), "unhide", hidden, cwd=tmp_path)

    assert restored.returncode == 0, restored.stderr
    assert {n: ids(served(config_path, url)) for n, url in archive.items()} == {
        n: ids(document) for n, document in before.items()
    }
    assert hidden in ids(served(config_path, f"/topics/{TOPIC}/feed.json"))
    history = feedsvc("--config", str(config_path), "history").stdout.splitlines()
    assert [line.split("  ")[1:] for line in history] == [
        ["hide", f"1 items: {hidden}"],
        ["unhide", f"1 items: {hidden}"],
    ]


def test_hide_names_a_link_that_is_not_stored(tmp_path: Path, server: PageServer) -> None:
    config_path = write_config(tmp_path, server.url(TOPIC_PATH))
    server.serve(TOPIC_PATH, page("rand-2015.html"))
    ingest_lines(config_path)

    done = feedsvc("--config", str(config_path), "hide", "https://nowhere.example/x")

    assert done.returncode == 1
    assert "no stored item has the link https://nowhere.example/x" in done.stderr
    assert feedsvc("--config", str(config_path), "history").stdout == ""


def test_hide_not_on_page_cleans_up_after_a_too_broad_selector(
    tmp_path: Path, server: PageServer
) -> None:
    config_path, fixed = broad_config(tmp_path, server)
    ingest_lines(config_path)  # the promo teaser got stored
    config_path.write_text(fixed, encoding="utf-8")
    ingest_lines(config_path)
    promo = [
        item for item in stored(config_path).values() if item.title.startswith("Support Our Work")
    ]
    assert len(promo) == 1

    asked = subprocess.run(
        [sys.executable, "-m", "feedsvc.cli", "--config", str(config_path), "hide",
         "--source-of", f"{TOPIC}:1", "--not-on-page"],
        input="n\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert asked.returncode == 1 and "nothing hidden" in asked.stdout
    assert promo[0].link in asked.stdout and "Hide these 1 items? [y/N]" in asked.stdout

    done = feedsvc(
        "--config", str(config_path), "hide", "--source-of", f"{TOPIC}:1", "--not-on-page", "--yes"
    )

    assert done.returncode == 0, done.stderr
    assert f"hide: {promo[0].link}" in done.stdout
    shown = stored(config_path)
    assert promo[0].guid not in shown and len(shown) == 3
    listed = feedsvc("--config", str(config_path), "items", "--topic", TOPIC).stdout
    assert "hidden  first-seen=" in listed and "4 items, 1 hidden" in listed


def _type_of(path_part: str) -> str:
    """The type the institute's link path gives (blog posts are commentary)."""
    return {"blog": "commentary", "pubs": "report"}.get(path_part, path_part)


def test_a_hidden_item_stays_hidden_when_another_topic_finds_it(
    tmp_path: Path, server: PageServer
) -> None:
    server.serve(TOPIC_PATH, page("rand-2015.html"))
    server.serve("/topics/europe.html", page("rand-2015.html"))
    config_path = write_config(tmp_path, server.url(TOPIC_PATH))
    ingest_lines(config_path)
    hidden = ids(served(config_path, f"/topics/{TOPIC}/feed.json"))[0]
    assert feedsvc("--config", str(config_path), "hide", hidden).returncode == 0

    both = {TOPIC: server.url(TOPIC_PATH), "europe": server.url("/topics/europe.html")}
    write_config(tmp_path, both)
    ingest_lines(config_path)

    europe = ids(served(config_path, "/topics/europe/feed.json"))
    assert len(europe) == 20 and hidden not in europe
    assert len(ids(served(config_path, "/topics/europe/archive/1.json"))) == 20
