"""Good manners toward a source: robots.txt, one host at a time, Retry-After read both ways."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from itertools import pairwise
from pathlib import Path

import pytest
from conftest import ROBOTS_PATH, PageServer, page, write_config

from feedsvc.config import Config, ConfigError, load
from feedsvc.fetch.client import make_fetcher
from feedsvc.fetch.politeness import retry_after_seconds
from feedsvc.ingest.source import SourceReport
from feedsvc.jobs.cycle import run_cycle, targets
from feedsvc.store import Store

PRIVATE_PATH = "/private/topic.html"  # only this path is ever disallowed: a port reused by a
# later test must not inherit a ban from the robots.txt cached here for an hour


def run_once(
    tmp_path: Path, server: PageServer, source_extra: str = "", extra: str = ""
) -> tuple[list[SourceReport], Config]:
    """One real ingest of the page at PRIVATE_PATH with a fresh store."""
    config = load(
        write_config(tmp_path, server.url(PRIVATE_PATH), extra=extra, source_extra=source_extra)
    )
    store = Store(config.service.database)
    store.create_schema()
    fetcher = make_fetcher(config)
    try:
        return run_cycle(store, fetcher, config, targets(config)), config
    finally:
        fetcher.close()
        store.close()


@pytest.fixture
def site(server: PageServer) -> PageServer:
    server.serve(PRIVATE_PATH, page("rand-2015.html"))
    return server


def test_robots_txt_that_disallows_us_is_obeyed(tmp_path: Path, site: PageServer) -> None:
    site.serve(ROBOTS_PATH, b"User-agent: feedsvc\nDisallow: /private/\n", headers={})
    [report], _ = run_once(tmp_path, site)
    assert report.error == (
        f"fetch: {site.base}/robots.txt disallows {site.url(PRIVATE_PATH)} for feedsvc"
    )
    assert site.requests == [] and len(site.robots_requests) == 1


def test_rules_for_other_robots_do_not_stop_us(tmp_path: Path, site: PageServer) -> None:
    site.serve(
        ROBOTS_PATH,
        b"User-agent: *\nDisallow: /private/\n\nUser-agent: feedsvc\nAllow: /\n",
        headers={"Content-Type": "text/plain"},
    )
    [report], _ = run_once(tmp_path, site)
    assert report.new == 21


@pytest.mark.parametrize(
    ("status", "allowed"), [(404, True), (410, True), (401, False), (403, False)]
)
def test_robots_txt_status_decides_per_rfc_9309(
    tmp_path: Path, site: PageServer, status: int, allowed: bool
) -> None:
    site.serve(ROBOTS_PATH, b"", status=status)
    [report], _ = run_once(tmp_path, site)
    assert report.ok is allowed
    assert len(site.requests) == int(allowed)


def test_an_unreadable_robots_txt_stops_the_fetch(tmp_path: Path, site: PageServer) -> None:
    site.serve(ROBOTS_PATH, b"down", status=500)
    [report], _ = run_once(tmp_path, site, extra="attempts = 2\n")
    assert report.error == f"fetch: HTTP 500 Internal Server Error from {site.base}/robots.txt"
    assert site.requests == [] and len(site.robots_requests) == 2  # retried like any fetch


def test_robots_false_skips_robots_txt_and_says_so(
    tmp_path: Path, site: PageServer, caplog: pytest.LogCaptureFixture
) -> None:
    site.serve(ROBOTS_PATH, b"User-agent: *\nDisallow: /\n")
    with caplog.at_level(logging.WARNING, logger="feedsvc.fetch.client"):
        [report], config = run_once(tmp_path, site, source_extra="robots = false")
    assert report.new == 21 and site.robots_requests == []
    assert config.topics[0].sources[0].robots is False
    assert f"robots.txt not consulted for {site.url(PRIVATE_PATH)}" in caplog.text


def test_robots_txt_is_read_once_per_host(tmp_path: Path, site: PageServer) -> None:
    site.serve("/other.html", page("rand-2024.html"))
    path = write_config(tmp_path, site.url(PRIVATE_PATH))
    path.write_text(
        path.read_text()
        + f"""
[[topics]]
slug = "other"
title = "Other"
  [[topics.sources]]
  url = "{site.url("/other.html")}"
  preset = "rand-topic"
"""
    )
    config = load(path)
    store = Store(config.service.database)
    store.create_schema()
    for _ in range(2):
        fetcher = make_fetcher(config)  # a new fetcher per run, as the scheduler makes them
        assert all(report.ok for report in run_cycle(store, fetcher, config, targets(config)))
        fetcher.close()
    store.close()
    assert len(site.robots_requests) == 1 and len(site.requests) == 4


def test_requests_to_one_host_keep_their_distance(tmp_path: Path, site: PageServer) -> None:
    for number in (2, 3):
        site.serve(f"{PRIVATE_PATH}?page={number}", page("rand-2024.html"))
    path = write_config(tmp_path, site.url(PRIVATE_PATH), source_extra="pages = 3")
    path.write_text(path.read_text().replace("host_delay_seconds = 0", "host_delay_seconds = 0.3"))
    config = load(path)
    store = Store(config.service.database)
    store.create_schema()
    [report] = run_cycle(store, make_fetcher(config), config, targets(config))
    store.close()
    assert report.ok
    times = [t for t, _ in site.history]
    assert len(times) == 4  # robots.txt and three pages
    gaps = [later - earlier for earlier, later in pairwise(times)]
    # 0.3 s apart when sent. Arrival jitters by the time a request takes to reach the
    # server (tens of ms on a loaded 2-core machine), which one gap may lose and the next
    # win back; the whole walk cannot be shorter than its three delays less one jitter.
    assert all(gap >= 0.2 for gap in gaps), gaps
    assert times[-1] - times[0] >= 0.8, gaps


def test_retry_after_reads_seconds_and_dates() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("120", now) == 120
    assert retry_after_seconds(format_datetime(now + timedelta(minutes=2), usegmt=True), now) == 120
    assert retry_after_seconds(format_datetime(now - timedelta(minutes=2), usegmt=True), now) == 0
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None


@pytest.mark.parametrize(
    ("extra", "source_extra", "message"),
    [
        ("attempts = 0\n", "", "ingest.attempts: expected a number from 1 to 10, got 0"),
        ("min_items_ratio = 2\n", "", "ingest.min_items_ratio: expected a number from 0 to 1"),
        (
            "max_wait_seconds = -1\n",
            "",
            "ingest.max_wait_seconds: expected a number at least 0",
        ),
        ("", 'robots = "no"', "topics[0].sources[0].robots: expected true or false, got str 'no'"),
    ],
)
def test_politeness_settings_are_validated(
    tmp_path: Path, extra: str, source_extra: str, message: str
) -> None:
    path = write_config(
        tmp_path, "http://127.0.0.1:9/x.html", extra=extra, source_extra=source_extra
    )
    with pytest.raises(ConfigError, match=re.escape(message)):
        load(path)
