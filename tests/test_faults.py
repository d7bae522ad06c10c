"""Every way a source can fail, served for real on 127.0.0.1: nothing lost, nothing changed.

Each case first ingests the 2015 capture, then lets the source misbehave and
checks that the store is the same row by row, that every feed answers the same
bytes, and that the source is reported failing with the reason expected.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import faults
import pytest
from conftest import TOPIC_PATH, PageServer, Reply, page, send, write_config
from faults import CAP, TEN_MB, TOPIC, Site, assert_unchanged, fault_config, snapshot

from feedsvc.config import load
from feedsvc.store import Store
from feedsvc.web import create_app


@pytest.fixture
def site(tmp_path: Path, server: PageServer) -> Iterator[Site]:
    server.serve(TOPIC_PATH, page("rand-2015.html"))
    config = fault_config(tmp_path, server.url(TOPIC_PATH))
    store = Store(config.service.database)
    store.create_schema()
    ready = Site(server, config, store)
    assert ready.ingest().new == 21
    server.requests.clear()
    faults.release.clear()
    yield ready
    faults.release.set()  # stalls and drips end now, so the server closes at once
    store.close()


@dataclass(frozen=True)
class Fault:
    """A misbehaving source: what it answers, the reason expected, how many requests it sees."""

    name: str
    answer: Callable[[Site], Reply | faults.Route]
    reason: str  # a regular expression; {url} is the page's URL
    requests: int


BODY = page("rand-2015.html")
FAULTS = [
    Fault(
        "500", lambda s: Reply(b"oops", 500), r"fetch: HTTP 500 Internal Server Error from {url}", 2
    ),
    Fault("404", lambda s: Reply(b"gone", 404), r"fetch: HTTP 404 Not Found from {url}", 1),
    Fault(
        "503 with a short Retry-After",
        lambda s: Reply(b"busy", 503, {"Retry-After": "1"}),
        r"fetch: HTTP 503 Service Unavailable from {url}",
        2,
    ),
    Fault(
        "503 with a Retry-After past the cap",
        lambda s: Reply(b"busy", 503, {"Retry-After": "3600"}),
        r"fetch: HTTP 503 Service Unavailable from {url} asks to retry after 3600 s, more than "
        r"max_wait_seconds = 3; the next scheduled run will try again",
        1,
    ),
    Fault(
        "429 with a Retry-After date",
        lambda s: Reply(
            b"slow down",
            429,
            {"Retry-After": format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)},
        ),
        r"fetch: HTTP 429 Too Many Requests from {url} asks to retry after 3\d\d\d s, more than "
        r"max_wait_seconds = 3; the next scheduled run will try again",
        1,
    ),
    Fault(
        "429 without Retry-After",
        lambda s: Reply(b"slow down", 429),
        r"fetch: HTTP 429 Too Many Requests from {url}",
        2,
    ),
    Fault(
        "connection reset",
        lambda s: faults.reset(),
        r"fetch: ConnectionError fetching {url}: .*(reset|aborted|closed).*",
        2,
    ),
    Fault(
        "read timeout",
        lambda s: faults.stall(10),
        r"fetch: timed out after 0.5 s fetching {url}",
        2,
    ),
    Fault(
        "slow drip",
        lambda s: faults.drip(BODY, 0.02),
        r"fetch: response took longer than 0.5 s to arrive \(\d+ bytes so far\): {url}",
        2,
    ),
    Fault(
        "truncated body",
        lambda s: faults.truncated(BODY),
        r"fetch: ProtocolError fetching {url}: .*IncompleteRead.*",
        2,
    ),
    Fault(
        "redirect loop",
        lambda s: faults.redirect_to(TOPIC_PATH),
        r"fetch: too many redirects \(more than 5\) from {url}",
        6,
    ),
    Fault(
        "10 MB body",
        lambda s: Reply(b"x" * TEN_MB),
        rf"fetch: response of {TEN_MB} bytes exceeds the {CAP}-byte cap: {{url}}",
        1,
    ),
    Fault(
        "10 MB body without Content-Length",
        lambda s: faults.unannounced(b"<p>" + b"x" * TEN_MB),
        rf"fetch: response exceeds the {CAP}-byte cap: {{url}}",
        1,
    ),
    Fault(
        "binary body",
        lambda s: Reply(bytes(range(256)) * 64, 200, {"Content-Type": "application/octet-stream"}),
        r"fetch: expected an HTML page, got Content-Type application/octet-stream from {url}",
        1,
    ),
    Fault(
        "binary body labelled as HTML",
        lambda s: Reply(bytes(range(256)) * 64),
        r'extract: no items matched item selector "ul.teasers > li"',
        1,
    ),
    Fault(
        "redesign without the listing",
        lambda s: Reply(faults.redesigned(BODY)),
        # the stored items are all there in the new markup: a repair waits to be applied
        r'extract: no items matched item selector "ul.teasers > li"; a repair is proposed '
        r"\(feedsvc repair --topic security-cooperation --apply\)",
        1,
    ),
    Fault(
        "half the items",
        lambda s: Reply(faults.half_the_items(BODY)),
        r"extract: only 1\d items on the page, fewer than 60% of the 21 found by recent runs; "
        r"the page may be broken \(if it really shrank: feedsvc ingest --force\)",
        1,
    ),
    Fault(
        "titles gone",
        lambda s: Reply(BODY.replace(b'<h3 class="title">', b'<h4 class="title">', 15)),
        r"normalize: 1\d of 21 items have no title or usable link \(more than 20%\); "
        r'the page layout may have changed; title selector "div.text h3 \| .*" matched \d of 21 '
        r'items; link selector "div.text h3 a \| .*" matched \d of 21 items; '
        r'the first item without a title or link reads: "Report Assessing Security Cooperation .*"',
        1,
    ),
]


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_a_failing_source_loses_and_changes_nothing(site: Site, fault: Fault) -> None:
    before, feeds = snapshot(site.store), site.feeds()
    good = site.store.source(TOPIC, site.url)
    site.server.routes[TOPIC_PATH] = fault.answer(site)

    report = site.ingest()

    assert report.outcome == "error"
    assert re.fullmatch(fault.reason.format(url=re.escape(site.url)), report.error), report.error
    assert len(site.server.requests) == fault.requests
    assert_unchanged(site, before, feeds)
    status = site.store.source(TOPIC, site.url)
    assert status.last_error == report.error
    assert status.failing_since == status.last_attempt_at >= good.last_attempt_at
    unchanged = {"last_success_at", "items_on_page", "items_found", "etag", "body_hash"}
    assert {k: getattr(status, k) for k in unchanged} == {k: getattr(good, k) for k in unchanged}
    health = create_app(site.config).test_client().get("/healthz")
    assert health.status_code == 200  # failing, but not yet for failing_after_minutes
    [source] = health.json["sources"]
    assert (health.json["status"], source["state"]) == ("degraded", "failing")
    assert source["last_error"] == report.error


def test_retry_after_is_honoured(site: Site) -> None:
    site.server.routes[TOPIC_PATH] = faults.in_turn(
        Reply(b"busy", 503, {"Retry-After": "1"}), Reply(BODY)
    )
    report = site.ingest()
    assert report.outcome == "same-bytes"
    first, second = [t for t, path in site.server.history if path == TOPIC_PATH][-2:]
    assert second - first >= 1.0


def test_backoff_grows_between_attempts(tmp_path: Path, server: PageServer) -> None:
    server.serve(TOPIC_PATH, b"oops", status=502)
    config = fault_config(tmp_path, server.url(TOPIC_PATH), extra="")
    path = config.path
    path.write_text(
        path.read_text()
        .replace("attempts = 2", "attempts = 3")
        .replace("backoff_seconds = 0.01", "backoff_seconds = 0.2")
    )
    site = Site(server, load(path), Store(load(path).service.database))
    site.store.create_schema()
    report = site.ingest()
    assert report.error == f"fetch: HTTP 502 Bad Gateway from {server.url(TOPIC_PATH)}"
    times = [t for t, p in server.history if p == TOPIC_PATH]
    assert len(times) == 3
    # Waits of backoff * 2**n, jittered down to half at most.
    assert times[1] - times[0] >= 0.1 and times[2] - times[1] >= 0.2
    site.store.close()


@pytest.mark.parametrize("transient", ["500", "connection reset", "truncated body"])
def test_a_transient_fault_is_retried_and_the_ingest_succeeds(site: Site, transient: str) -> None:
    [fault] = [f for f in FAULTS if f.name == transient]
    edited = BODY.replace(b"Salvaging Iraq", b"Salvaging Iraq, Revised")
    site.server.routes[TOPIC_PATH] = faults.in_turn(fault.answer(site), Reply(edited))
    report = site.ingest()
    assert (report.outcome, report.updated, report.unchanged) == ("fetched", 1, 20)
    assert len(site.server.requests) == 2
    assert site.store.source(TOPIC, site.url).last_error is None


def test_the_source_recovers_when_the_page_does(site: Site) -> None:
    site.server.routes[TOPIC_PATH] = Reply(faults.half_the_items(BODY))
    assert site.ingest().outcome == "error"
    site.server.routes[TOPIC_PATH] = Reply(BODY)
    report = site.ingest()
    assert report.outcome == "same-bytes" and report.ok  # the last good page, seen again
    status = site.store.source(TOPIC, site.url)
    assert status.last_error is None and status.failing_since is None


def test_force_stores_a_page_that_really_shrank(site: Site) -> None:
    before = site.store.count_items()
    site.server.routes[TOPIC_PATH] = Reply(faults.half_the_items(BODY))
    assert site.ingest().outcome == "error"
    report = site.ingest(force=True)
    assert report.ok and report.new == 0 and 10 <= report.unchanged <= 11
    assert site.store.count_items() == before  # nothing is deleted for leaving the page
    # The shrunken page is now one of the recent runs, but a single one does not set the norm.
    assert site.ingest().outcome == "same-bytes"


def test_a_not_modified_answer_writes_nothing(tmp_path: Path, server: PageServer) -> None:
    def conditional(handler) -> None:
        if handler.headers.get("If-None-Match") == '"v1"':
            send(handler, Reply(b"", 304, {}))
        else:
            send(handler, Reply(BODY, 200, {"Content-Type": "text/html", "ETag": '"v1"'}))

    server.routes[TOPIC_PATH] = conditional
    config = fault_config(tmp_path, server.url(TOPIC_PATH))
    site = Site(server, config, Store(config.service.database))
    site.store.create_schema()
    assert site.ingest().new == 21
    before, feeds = snapshot(site.store), site.feeds()
    report = site.ingest()
    assert report.outcome == "not-modified"
    assert server.requests[-1][1]["If-None-Match"] == '"v1"'
    assert_unchanged(site, before, feeds)
    site.store.close()


def test_the_same_bytes_write_nothing(site: Site) -> None:
    before, feeds = snapshot(site.store), site.feeds()
    assert site.ingest().outcome == "same-bytes"
    assert_unchanged(site, before, feeds)


def test_the_command_line_reports_a_broken_page(tmp_path: Path, server: PageServer) -> None:
    server.serve(TOPIC_PATH, BODY)
    path = write_config(tmp_path, server.url(TOPIC_PATH))

    def feedsvc(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "feedsvc.cli", "--config", str(path), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert feedsvc("ingest").returncode == 0
    server.serve(TOPIC_PATH, faults.half_the_items(BODY))
    broken = feedsvc("ingest")
    assert broken.returncode == 1
    assert broken.stdout.startswith(f"{TOPIC} {server.url(TOPIC_PATH)}: error: extract: only 11 ")
    status = feedsvc("status")
    assert status.returncode == 1
    assert re.fullmatch(
        rf"{TOPIC} {re.escape(server.url(TOPIC_PATH))}: FAILING last_attempt=\S+ last_success=\S+ "
        r"items_on_page=21 items_found=21 failing_since=\S+ error=extract: only 11 items .*\n"
        r"scheduler: no leader yet\n",
        status.stdout,
    ), status.stdout
    forced = feedsvc("ingest", "--force")
    assert forced.returncode == 0 and forced.stdout.endswith(" new=0 updated=0 unchanged=11\n")
    assert feedsvc("status").returncode == 0
