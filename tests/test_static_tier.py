"""The static tier: published files, and real nginx (deploy/) in front of real gunicorn."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path

import feedparser
import pytest
import requests
from conftest import TOPIC_PATH, PageServer, page, write_config

from feedsvc.config import Config, load
from feedsvc.generation import generation_marker
from feedsvc.publish.export import HEADERS_SUFFIX
from feedsvc.web import create_app
from tests.support.net import free_port
from tests.support.servers import gunicorn, missing_nginx, nginx, site_config

TOPIC = "security-cooperation"
FEEDS = [f"topics/{TOPIC}", "types/report", f"topics/{TOPIC}/types/commentary"]
FORMATS = ["rss", "atom", "json"]
VARYING = {"date", "server", "connection", "keep-alive"}  # set by whichever server answers


def feed_files(config: Config) -> list[Path]:
    return [config.publish.directory / feed / f"feed.{fmt}" for feed in FEEDS for fmt in FORMATS]


def test_every_feed_is_published_as_the_apps_bytes_and_headers(run_ingest, config: Config) -> None:
    run_ingest()
    client = create_app(config).test_client()
    for path in feed_files(config):
        url = "/" + str(path.relative_to(config.publish.directory))
        for encoding, file in (("identity", path), ("gzip", path.with_name(path.name + ".gz"))):
            response = client.get(url, headers={"Accept-Encoding": encoding})
            assert file.read_bytes() == response.data
            mtime = parsedate_to_datetime(response.headers["Last-Modified"]).timestamp()
            assert file.stat().st_mtime == mtime
            lines = file.with_name(file.name + HEADERS_SUFFIX).read_text().splitlines()
            sent = [f"{k}: {v}" for k, v in response.headers.items() if k != "Content-Length"]
            assert lines == sent
        assert gzip.decompress(path.with_name(path.name + ".gz").read_bytes()) == path.read_bytes()
    leftovers = [p for p in config.publish.directory.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_an_emptied_directory_is_written_again_at_the_next_ingest(
    run_ingest, config: Config
) -> None:
    run_ingest()
    shutil.rmtree(config.publish.directory)
    assert run_ingest()[0].outcome == "same-bytes"  # nothing changed, nothing re-rendered
    assert all(path.exists() for path in feed_files(config))
    assert generation_marker(config).exists()


@dataclass
class Tier:
    """nginx (deploy/nginx.conf) on one port, the gunicorn app it falls back to on another."""

    static: str
    app: str
    config_path: Path
    gunicorn: subprocess.Popen


def feedsvc_ingest(config_path: Path) -> str:
    """One pass of the real command line, as cron or the scheduler would run it."""
    done = subprocess.run(
        [sys.executable, "-m", "feedsvc.cli", "--config", str(config_path), "ingest"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def tier(tmp_path: Path, server: PageServer) -> Iterator[Tier]:
    reason = missing_nginx()
    if reason:
        pytest.skip(reason)
    server.serve(TOPIC_PATH, page("rand-2015.html"))
    config_path = write_config(tmp_path, server.url(TOPIC_PATH))
    feedsvc_ingest(config_path)
    public = load(config_path).publish.directory
    app_port, port = free_port(), free_port()
    env = {"FEEDSVC_CONFIG": str(config_path)}
    with (
        gunicorn("feedsvc.web:create_app()", app_port, env=env) as app,
        nginx(tmp_path / "nginx", site_config(public, app_port, port), [port]),
    ):
        yield Tier(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{app_port}", config_path, app)


def answer(base: str, path: str, method: str = "GET", **headers: str) -> tuple:
    """Status, headers that do not depend on the server, and the body as sent (plain by default)."""
    headers = {"Accept-Encoding": "identity", **headers}
    response = requests.request(method, base + path, headers=headers, timeout=10, stream=True)
    body = response.raw.read()
    kept = {k.lower(): v for k, v in response.headers.items() if k.lower() not in VARYING}
    return response.status_code, kept, body


def test_nginx_sends_the_apps_bytes_headers_and_304s(tier: Tier) -> None:
    for feed in FEEDS:
        for fmt in FORMATS:
            path = f"/{feed}/feed.{fmt}"
            for encoding in ("identity", "gzip, deflate"):
                for method in ("GET", "HEAD"):
                    static = answer(tier.static, path, method, **{"Accept-Encoding": encoding})
                    assert static == answer(tier.app, path, method, **{"Accept-Encoding": encoding})
                    assert static[0] == 200 and "etag" in static[1]
                etag, modified = static[1]["etag"], static[1]["last-modified"]
                for conditional, status in (
                    ({"If-None-Match": etag}, 304),
                    ({"If-None-Match": f'"other", W/{etag}'}, 304),
                    ({"If-Modified-Since": modified}, 304),
                    ({"If-None-Match": '"other"', "If-Modified-Since": modified}, 200),
                    ({"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"}, 200),
                ):
                    headers = {"Accept-Encoding": encoding, **conditional}
                    got = answer(tier.static, path, **headers)
                    assert got == answer(tier.app, path, **headers), conditional
                    assert got[0] == status, conditional


def test_the_files_are_served_without_the_app(tier: Tier) -> None:
    published = answer(tier.static, f"/topics/{TOPIC}/feed.atom")
    tier.gunicorn.terminate()
    tier.gunicorn.wait(20)
    assert answer(tier.static, f"/topics/{TOPIC}/feed.atom") == published
    assert answer(tier.static, f"/topics/{TOPIC}/feed.atom?limit=5")[0] == 502  # app-only


def test_what_is_not_published_comes_from_the_app(tier: Tier) -> None:
    for path in (
        f"/topics/{TOPIC}/feed.atom?limit=5",
        "/topics/nope/feed.rss",
        "/types/nope/feed.json",
        f"/topics/{TOPIC}/feed.xml",
        f"/topics/{TOPIC}/feed.atom.headers",
        "/.generation",
    ):
        assert answer(tier.static, path) == answer(tier.app, path), path
    limited = answer(tier.static, f"/topics/{TOPIC}/feed.atom?limit=5")
    assert len(feedparser.parse(limited[2]).entries) == 5
    matching = {"If-Match": '"other"'}
    assert answer(tier.static, f"/topics/{TOPIC}/feed.rss", **matching)[0] == 412


def test_a_changed_feed_is_served_at_once_after_an_ingest(tier: Tier, server: PageServer) -> None:
    before = answer(tier.static, f"/topics/{TOPIC}/feed.atom")
    assert len(feedparser.parse(before[2]).entries) == 21
    server.serve(TOPIC_PATH, page("rand-2024.html"))
    assert "fetched new=22" in feedsvc_ingest(tier.config_path)
    after = answer(
        tier.static, f"/topics/{TOPIC}/feed.atom", **{"If-None-Match": before[1]["etag"]}
    )
    assert after[0] == 200 and after[1]["etag"] != before[1]["etag"]
    assert len(feedparser.parse(after[2]).entries) == 43
    assert after == answer(
        tier.app, f"/topics/{TOPIC}/feed.atom", **{"If-None-Match": before[1]["etag"]}
    )
