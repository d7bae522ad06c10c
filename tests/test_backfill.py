"""`feedsvc backfill` over 12 listing pages, killed with SIGKILL halfway and resumed.

The pages are the institute's 2015 topic-page markup as the site pages it (see
tests/fixtures/backfill/README.md), served by a real HTTP server on 127.0.0.1; page 7
holds its answer until the backfill process has been killed.
"""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from conftest import TOPIC_PATH, PageServer, Reply, page, send, write_config
from test_config import feedsvc

from feedsvc.config import load
from feedsvc.web import create_app
from tests.support.config import FAST_INGEST

TOPIC = "security-cooperation"
PAGES, PER_PAGE, KILLED_AT = 12, 10, 7
# The Featured block exactly as the 2015 capture has it: the site repeats it on every page.
CAPTURE = page("rand-2015.html").decode()
FEATURED = CAPTURE[CAPTURE.index('  <div class="featured">') : CAPTURE.index("  <h2>Explore")]
UNDATED = (9, 4)  # page 9's fifth teaser is a weekly recap without a date


def teaser(page: int, index: int) -> str:
    """One "Explore" teaser, newest first across pages; date and summary in either order."""
    number = (page - 1) * PER_PAGE + index
    day = date(2014, 12, 31) - timedelta(days=7 * number)
    if (page, index) == UNDATED:
        return f"""
    <li>
      <div class="text">
        <p class="type">RAND Weekly Recap</p>
        <h3 class="title"><a href="/blog/recap/{number}.html">Weekly Recap {number}</a></h3>
        <p class="desc">What we covered this week.</p>
      </div>
    </li>"""
    desc = f'<p class="desc">Findings of study {number} on partner capacity.</p>'
    when = f'<p class="date">{day:%b} {day.day}, {day.year}</p>'
    body = desc + when if number % 2 else when + desc
    return f"""
    <li>
      <div class="img-wrap"><a href="/pubs/research_reports/RR{1000 + number}.html"><img src="/content/dam/rand/image/pubs/{number}.jpg" alt="Study {number}"></a></div>
      <div class="text">
        <p class="type">Report</p>
        <h3 class="title"><a href="/pubs/research_reports/RR{1000 + number}.html">Study {number} of Security Cooperation</a></h3>
        {body}
      </div>
    </li>"""


def listing(page: int) -> bytes:
    """Page `page` of the topic list; past the last one, the Featured block and no teasers."""
    teasers = "".join(teaser(page, i) for i in range(PER_PAGE)) if page <= PAGES else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Security Cooperation | RAND</title></head>
<body>
<div id="content">
  <h1 id="RANDTitleHeadingId">Security Cooperation</h1>
{FEATURED}  <h2>Explore Security Cooperation</h2>
  <ul class="teasers list organic">{teasers}
  </ul>
</div>
</body>
</html>""".encode()


def page_path(page: int) -> str:
    return TOPIC_PATH if page == 1 else f"{TOPIC_PATH}?page={page}"


def served(config_path: Path, url: str) -> dict | None:
    answer = create_app(load(config_path)).test_client().get(url)
    return answer.get_json() if answer.status_code == 200 else None


def archive(config_path: Path) -> dict[int, dict]:
    """Every archive page of the topic feed, walked until one is missing."""
    pages: dict[int, dict] = {}
    while document := served(config_path, f"/topics/{TOPIC}/archive/{len(pages) + 1}.json"):
        pages[len(pages) + 1] = document
    return pages


def ids(document: dict | None) -> list[str]:
    return [entry["id"] for entry in document["items"]] if document else []


def serve_listing(server: PageServer, held: int) -> threading.Event:
    """Every page of the listing; page `held` answers only once the returned event is set."""
    for number in range(1, PAGES + 2):
        server.serve(page_path(number), listing(number))
    release = threading.Event()

    def hold(handler: BaseHTTPRequestHandler) -> None:
        release.wait(30)
        send(handler, Reply(listing(held)))

    server.routes[page_path(held)] = hold
    return release


def ingested(tmp_path: Path, server: PageServer) -> Path:
    """A config for the listing with small archive pages, and page 1 ingested."""
    config_path = write_config(tmp_path, server.url(TOPIC_PATH), "[feeds]\narchive_page_size = 4\n")
    assert feedsvc("--config", str(config_path), "ingest", cwd=tmp_path).returncode == 0
    return config_path


def wait_for_request(server: PageServer, number: int, process: subprocess.Popen) -> None:
    """Until the backfill process asks for page `number` (it is still running)."""
    deadline = time.monotonic() + 30
    while not any(path == page_path(number) for path, _ in server.requests):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)


def test_a_backfill_killed_halfway_resumes_and_stores_every_item_once(
    tmp_path: Path, server: PageServer
) -> None:
    release = serve_listing(server, KILLED_AT)
    config_path = ingested(tmp_path, server)
    current = ids(served(config_path, f"/topics/{TOPIC}/feed.json"))
    assert len(current) == 1 + PER_PAGE
    before = archive(config_path)
    final = {n: doc for n, doc in before.items() if n < len(before)}
    assert len(final) == 2  # 11 items in pages of 4: two final pages and a partial one

    command = [sys.executable, "-m", "feedsvc.cli", "--config", str(config_path)]
    killed = subprocess.Popen(
        [*command, "backfill", "--topic", TOPIC], cwd=tmp_path, stdout=subprocess.PIPE, text=True
    )
    wait_for_request(server, KILLED_AT, killed)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait(10)
    release.set()
    assert killed.returncode == -signal.SIGKILL
    stored_halfway = json.loads(
        feedsvc("--config", str(config_path), "items", "--topic", TOPIC, "--json").stdout
    )["items"]
    assert len(stored_halfway) == 1 + PER_PAGE * (KILLED_AT - 1)  # pages 2-6 kept, each whole
    server.routes[page_path(KILLED_AT)] = Reply(listing(KILLED_AT))
    asked_before = len(server.requests)

    resumed = feedsvc("--config", str(config_path), "backfill", "--topic", TOPIC, cwd=tmp_path)

    assert resumed.returncode == 0, resumed.stderr
    pages_read = PAGES - KILLED_AT + 1
    oldest = date(2014, 12, 31) - timedelta(days=7 * (PAGES * PER_PAGE - 1))
    assert resumed.stdout.splitlines()[-1] == (
        f"{TOPIC} {server.url(TOPIC_PATH)}: backfill pages={pages_read} "
        f"new={pages_read * PER_PAGE} known={pages_read} oldest={oldest.isoformat()}: complete"
    )
    assert f"  page {server.url(page_path(KILLED_AT))}: new=10 known=1" in resumed.stdout
    asked = [path for path, _ in server.requests[asked_before:]]
    assert asked == [page_path(page) for page in range(KILLED_AT, PAGES + 2)]  # from page 7 on

    listed = json.loads(
        feedsvc("--config", str(config_path), "items", "--topic", TOPIC, "--json").stdout
    )["items"]
    links = [item["link"] for item in listed]
    assert len(links) == len(set(links)) == 1 + PAGES * PER_PAGE  # every item, once
    assert ids(served(config_path, f"/topics/{TOPIC}/feed.json")) == current  # none as new
    after = archive(config_path)
    assert {n: after[n] for n in final} == final  # final archive pages unchanged
    archived = [entry for doc in after.values() for entry in doc["items"]]
    assert sorted(e["url"] for e in archived) == sorted(links)  # history through the archives
    recap = next(e for e in archived if "/blog/recap/" in e["url"])
    earlier = [
        e["date_published"]
        for e in archived
        if e["url"].rsplit("RR", 1)[-1][:4].isdigit()
        and int(e["url"].rsplit("RR", 1)[-1][:4]) - 1000 < (UNDATED[0] - 1) * PER_PAGE
    ]
    assert recap["date_published"] < min(earlier)  # placed by its page, never "now"

    again = feedsvc("--config", str(config_path), "backfill", "--topic", TOPIC, cwd=tmp_path)
    assert again.stdout.strip().endswith(": complete") and " pages=0 new=0 " in again.stdout


def test_ctrl_c_on_a_terminal_keeps_the_pages_read_and_the_next_run_goes_on(
    tmp_path: Path, server: PageServer
) -> None:
    release = serve_listing(server, 4)
    config_path = ingested(tmp_path, server)
    terminal, screen = pty.openpty()  # stdout is a terminal: the progress bar is drawn
    running = subprocess.Popen(
        [sys.executable, "-m", "feedsvc.cli", "--config", str(config_path),
         "backfill", "--topic", TOPIC],
        cwd=tmp_path, stdout=screen, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    os.close(screen)
    wait_for_request(server, 4, running)
    running.send_signal(signal.SIGINT)
    _, bar = running.communicate(timeout=30)
    release.set()
    shown = _read_all(terminal)

    assert running.returncode == 130, bar
    assert "backfill interrupted; run it again to go on" in shown
    assert "backfill: " in bar and "2page" in bar.replace(" ", "")  # tqdm: 2 pages read
    listed = json.loads(
        feedsvc("--config", str(config_path), "items", "--topic", TOPIC, "--json").stdout
    )["items"]
    assert len(listed) == 1 + 3 * PER_PAGE  # page 1, then pages 2 and 3 of the backfill
    assert len(archive(config_path)) == 8  # 31 items in pages of 4: rendered before it exited
    server.routes[page_path(4)] = Reply(listing(4))

    resumed = feedsvc("--config", str(config_path), "backfill", "--topic", TOPIC, cwd=tmp_path)

    assert resumed.returncode == 0, resumed.stderr
    assert f" backfill pages={PAGES - 3} new={(PAGES - 3) * PER_PAGE} " in resumed.stdout


def _read_all(descriptor: int) -> str:
    """What a process wrote to a pseudo-terminal, until it closed."""
    chunks = []
    while True:
        try:
            chunk = os.read(descriptor, 4096)
        except OSError:  # EIO: the other side is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(descriptor)
    return b"".join(chunks).decode(errors="replace")


def blog_page(number: int, last: int) -> bytes:
    """A WordPress archive page (/news/page/N/): five posts, `<link rel="next">` in its head
    and a pager whose "next" link has the class of a theme, on every page but the last."""
    posts = "".join(
        f"""
  <article class="post type-post status-publish">
    <header class="entry-header"><h2 class="entry-title"><a href="/news/{number}-{i}/" rel="bookmark">Harbour works report {number}.{i}</a></h2></header>
    <div class="entry-meta"><time class="entry-date published" datetime="2023-{13 - number:02d}-{20 - i:02d}T09:00:00+00:00">{20 - i} {["", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][13 - number]} 2023</time></div>
    <div class="entry-summary"><p>What the harbour board decided at meeting {number}.{i}, and why.</p></div>
  </article>"""
        for i in range(5)
    )
    following = f'<link rel="next" href="/news/page/{number + 1}/" />' if number < last else ""
    pager = f'<a class="next page-numbers" href="/news/page/{number + 1}/">Next</a>' * (
        number < last
    )
    return f"""<!DOCTYPE html>
<html lang="en-GB"><head><meta charset="UTF-8"><title>News - Harbour Board</title>
{following}</head>
<body class="blog"><main id="main" class="site-main">{posts}
<nav class="navigation pagination"><div class="nav-links">{pager}</div></nav></main></body></html>""".encode()


def test_backfill_follows_the_next_page_the_listing_declares(
    tmp_path: Path, server: PageServer
) -> None:
    """discover proposes the page's own `<link rel="next">`; backfill walks it to the end."""
    last = 4
    server.serve("/news/", blog_page(1, last))
    for number in range(2, last + 1):
        server.serve(f"/news/page/{number}/", blog_page(number, last))
    found = feedsvc("discover", server.url("/news/"), cwd=tmp_path)
    assert found.returncode == 0 and 'next = "link[rel~=next]"' in found.stdout, found.stdout
    config_path = tmp_path / "config.toml"
    config_path.write_text(
        f'[service]\ndatabase = "sqlite:///{tmp_path / "feeds.sqlite3"}"\n'
        f'base_url = "http://feeds.test"\n[ingest]\n{FAST_INGEST}[[topics]]\nslug = "news"\n'
        f'title = "News"\n\n{found.stdout}',
        encoding="utf-8",
    )
    assert feedsvc("--config", str(config_path), "ingest", cwd=tmp_path).returncode == 0
    walked = feedsvc("--config", str(config_path), "backfill", "--topic", "news", cwd=tmp_path)
    assert walked.returncode == 0, walked.stdout + walked.stderr
    assert "pages=3 new=15" in walked.stdout and "complete" in walked.stdout, walked.stdout
    asked = [path for path, _ in server.requests if path.startswith("/news/page/")]
    assert asked == [f"/news/page/{n}/" for n in range(2, last + 1)]
