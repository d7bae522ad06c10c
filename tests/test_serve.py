"""The real command line: `feedsvc ingest` and `feedsvc serve` (gunicorn plus the scheduler)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import feedparser
import requests
from conftest import TOPIC_PATH, PageServer, page, write_config

from tests.support.net import free_port
from tests.support.servers import feedsvc_serve

CLI = [sys.executable, "-m", "feedsvc.cli"]


@contextmanager
def serving(config_path: Path, port: int) -> Iterator[str]:
    """Run `feedsvc serve` (with its scheduler) and stop it afterwards; no traceback logged."""
    log = config_path.parent / "serve.log"
    with feedsvc_serve(config_path, port, log):
        yield f"http://127.0.0.1:{port}"
    output = log.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in output, output


def wait_for(check, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)


def test_ingest_command_prints_a_line_per_source(tmp_path: Path, server: PageServer) -> None:
    server.serve(TOPIC_PATH, page("rand-2015.html"))
    path = write_config(tmp_path, server.url(TOPIC_PATH))
    first = subprocess.run(
        [*CLI, "--config", str(path), "ingest"], capture_output=True, text=True, timeout=60
    )
    assert first.returncode == 0, first.stderr
    assert (
        first.stdout
        == f"security-cooperation {server.url(TOPIC_PATH)}: fetched new=21 updated=0 unchanged=0\n"
    )
    again = subprocess.run(
        [*CLI, "--config", str(path), "ingest", "--topic", "security-cooperation"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.stdout.endswith(": same-bytes new=0 updated=0 unchanged=0\n")
    server.serve(TOPIC_PATH, b"gone", status=503)
    failed = subprocess.run(
        [*CLI, "--config", str(path), "ingest"], capture_output=True, text=True, timeout=60
    )
    assert failed.returncode == 1
    assert failed.stdout.endswith(
        f": error: fetch: HTTP 503 Service Unavailable from {server.url(TOPIC_PATH)}\n"
    )
    status = subprocess.run(
        [*CLI, "--config", str(path), "status"], capture_output=True, text=True, timeout=60
    )
    assert status.returncode == 1
    assert "FAILING" in status.stdout and "items_found=21" in status.stdout
    unknown = subprocess.run(
        [*CLI, "--config", str(path), "ingest", "--topic", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unknown.returncode == 2 and "unknown topic 'nope'" in unknown.stderr


def test_serve_ingests_at_start_and_serves_feeds(tmp_path: Path, server: PageServer) -> None:
    server.serve(TOPIC_PATH, page("rand-2024.html"))
    port = free_port()
    path = write_config(tmp_path, server.url(TOPIC_PATH))
    with serving(path, port) as base:

        def ingested() -> bool:
            return requests.get(f"{base}/healthz", timeout=5).json()["items"] == 22

        exported = tmp_path / "var" / "public" / "topics" / "security-cooperation" / "feed.atom"

        def published() -> bool:  # the items are stored a moment before the feed is rendered;
            # its file is written after every worker was told, so then every worker serves it
            return exported.exists() and len(feedparser.parse(exported.read_bytes()).entries) == 22

        wait_for(ingested)
        wait_for(published)
        for _ in range(4):  # more requests than workers: each one answers with the publish
            feed = requests.get(f"{base}/topics/security-cooperation/feed.atom", timeout=5)
            parsed = feedparser.parse(feed.content)
            assert not parsed.bozo and len(parsed.entries) == 22
            assert feed.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    assert [p for p, _ in server.requests].count(
        TOPIC_PATH
    ) == 1  # one scheduler, not one per worker
    # The default config keeps no access log (nginx in front logs; each line costs gunicorn).
    assert "GET /topics/security-cooperation/feed.atom" not in (tmp_path / "serve.log").read_text()


def test_serve_without_network_starts_and_reports_the_failure(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/topics/security-cooperation.html"  # nothing listens
    port = free_port()
    path = write_config(tmp_path, dead)
    path.write_text(path.read_text().replace("[ingest]", 'access_log = "access.log"\n[ingest]'))
    with serving(path, port) as base:

        def attempted() -> bool:
            return (
                requests.get(f"{base}/healthz", timeout=5).json()["sources"][0]["last_attempt"]
                is not None
            )

        wait_for(attempted)
        [source] = requests.get(f"{base}/healthz", timeout=5).json()["sources"]
        assert source["state"] == "failing" and source["last_success"] is None
        assert source["last_error"].startswith("fetch: ConnectionError")
        for fmt in ("rss", "atom"):
            response = requests.get(f"{base}/topics/security-cooperation/feed.{fmt}", timeout=5)
            parsed = feedparser.parse(response.content)
            assert response.status_code == 200 and not parsed.bozo and parsed.entries == []
    logged = (tmp_path / "access.log").read_text()  # [service] access_log, beside the config
    assert '"GET /topics/security-cooperation/feed.rss HTTP/1.1" 200' in logged
