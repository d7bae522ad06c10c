"""`feedsvc demo` for real: offline, on 127.0.0.1, writing only under var/demo/, and the
pages it serves opened in headless Chromium."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import html
from prometheus_client.parser import text_string_to_metric_families
from test_browser import CHROMIUM, dump_dom

from feedsvc.keys import FeedKey
from feedsvc.store import Store

TOPIC = "security-cooperation"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen]]:
    """`feedsvc demo` started in an empty folder, until the test ends."""
    port = free_port()
    log = (tmp_path / "demo.log").open("w")
    workdir = tmp_path / "work"
    workdir.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "feedsvc.cli", "demo", "--port", str(port)],
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/")
        yield base, workdir, process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)
        log.close()


def test_demo_ingests_both_captures_and_serves_them(
    demo: tuple[str, Path, subprocess.Popen], tmp_path: Path
) -> None:
    base, workdir, _ = demo
    output = (tmp_path / "demo.log").read_text()
    assert "demo: ingested rand-2015.html: security-cooperation" in output
    assert "fetched new=21" in output and "fetched new=22" in output
    assert f"{base}/topics/{TOPIC}/feed.atom" in output
    assert sorted(p.name for p in workdir.iterdir()) == ["var"]
    assert sorted(p.name for p in (workdir / "var").iterdir()) == ["demo"]
    with urllib.request.urlopen(f"{base}/topics/{TOPIC}/feed.atom", timeout=5) as response:
        assert response.read().count(b"<entry>") == 43
    with urllib.request.urlopen(f"{base}/status", timeout=5) as response:
        assert b"fetched" in response.read()  # served from 127.0.0.1: an admin network


def runs_by_outcome(base: str) -> dict[str, float]:
    with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:
        families = text_string_to_metric_families(response.read().decode())
        runs = next(f for f in families if f.name == "feedsvc_ingest_runs")
    return {s.labels["outcome"]: s.value for s in runs.samples}


def test_metrics_agree_across_workers_and_count_the_scheduler_s_runs(
    demo: tuple[str, Path, subprocess.Popen],
) -> None:
    base, _, _ = demo
    deadline = time.monotonic() + 30
    seen = runs_by_outcome(base)
    while "same-bytes" not in seen:  # the scheduler process's first run, at its start
        assert time.monotonic() < deadline, seen
        time.sleep(0.3)
        seen = runs_by_outcome(base)
    assert seen == {"fetched": 2.0, "same-bytes": 1.0}
    # gunicorn hands these to both workers; every one counts from the store alike.
    assert all(runs_by_outcome(base) == seen for _ in range(10))


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_chromium_shows_the_demo_topic_with_its_newest_items(
    demo: tuple[str, Path, subprocess.Popen], tmp_path: Path
) -> None:
    base, workdir, _ = demo
    store = Store(f"sqlite:///{workdir / 'var/demo/feedsvc.sqlite3'}")
    try:
        newest = store.entries(FeedKey(topic=TOPIC), 5)
    finally:
        store.close()
    for path in ("/", f"/topics/{TOPIC}/"):
        document = html.fromstring(dump_dom(base + path, tmp_path / "profile"))
        text = " ".join(document.text_content().split())
        assert "43 items stored; last successful fetch" in text
        items = document.xpath("//ul[@class='newest']/li")
        assert [" ".join(li.xpath("string(.//a)").split()) for li in items] == [
            " ".join(item.title.split()) for item in newest
        ]
        assert [li.xpath("string(.//span[@class='type'])") for li in items] == [
            item.type_label for item in newest
        ]
        assert document.xpath("//ul[@class='newest']/li/img/@src")
        assert f"{base}/topics/{TOPIC}/feed.atom" in document.xpath("//a/@href")
