"""Corrections take effect: a fixed selector re-extracts an unchanged page that answers 304.

A real HTTP server on 127.0.0.1 serves a Drupal listing with a strong ETag and answers a
matching If-None-Match with 304, as real sites do; the config is corrected between runs.
"""

from __future__ import annotations

import hashlib
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from conftest import PageServer, Reply, send
from test_config import feedsvc
from test_families import family_config

from feedsvc.config import load
from feedsvc.feeds import FeedKey
from feedsvc.store import Store

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
