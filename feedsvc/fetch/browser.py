"""Render a page in headless Chromium, for sources whose list a script builds
(`fetch = "browser"`): Debian's /usr/bin/chromium driven by Playwright, never a download.

The browser never reaches the network itself. The document is fetched first, as any
page is (conditionally: a 304 skips the render and the browser); every request the page
then makes (scripts, XHR, frames) is routed back here, vetted by the address guard and
made by feedsvc's own fetcher (robots.txt, the host's turn, size cap, redirects counted,
proxy, the source's headers), then handed to the page. Images, fonts and media are
refused unasked. Whatever could escape the routing (a WebSocket, Chromium's own
background traffic) meets a proxy on 127.0.0.1 that nothing answers.

One browser per process, on one event-loop thread, shared by every source and closed
after `IDLE_SECONDS` without a page; `[ingest] browser_concurrency` pages at most at once.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from feedsvc.config import IngestConfig
from feedsvc.config.environment import redact
from feedsvc.fetch.client import Fetched, Fetcher, FetchError, Refused
from feedsvc.fetch.guard import Guard, source_guard
from feedsvc.fetch.politeness import PageTurns

log = logging.getLogger(__name__)

CHROMIUM = Path("/usr/bin/chromium")
IDLE_SECONDS = 60.0
NOT_LOADED = frozenset({"image", "font", "media"})
# what a page loads as code; anything else it loads (XHR, fetch, frames, event streams) is
# data from outside its document, which the document's validators say nothing about
CODE = frozenset({"script", "stylesheet"})
# what a page's own request says that its server may need (an API answering JSON only to
# `Accept: application/json`, an `X-Requested-With`); the source's headers win over these
FORWARDED_HEADERS = frozenset({"accept", "content-type", "referer", "x-requested-with"})
UNANSWERED_PROXY = "http://127.0.0.1:9"  # discard port: a request that escapes routing dies
LAUNCH_ARGS = (
    "--no-sandbox",  # containers and root: Chromium's sandbox needs user namespaces
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--proxy-bypass-list=<-loopback>",  # loopback too goes to the unanswered proxy
)


class BrowserError(FetchError):
    """A page the browser could not render; the message names what happened."""

    def __init__(self, reason: str) -> None:
        Exception.__init__(self, redact(f"browser: {reason}"))
        self.reason = redact(reason)


@dataclass
class Visit:
    """One page being rendered: its document, already fetched, and what happened since."""

    url: str
    document: Fetched
    wait_for: str | None
    robots: bool
    headers: Mapping[str, str]
    guard: Guard
    loads: Fetcher  # what the page asks for: its host's turn shared, one attempt
    waiting: str = "the page to load"
    notes: list[str] = field(default_factory=list)
    opened: bool = False  # the document was handed to the page
    loaded_data: bool = False  # the page loaded more than code: its document is not all


def render(
    fetcher: Fetcher,
    url: str,
    *,
    wait_for: str | None = None,
    robots: bool = True,
    headers: Mapping[str, str] | None = None,
    guard: Guard | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
) -> Fetched:
    """The page's DOM after its scripts ran, as a UTF-8 HTML page; waits for `wait_for`
    (CSS) or else for the network to go quiet, up to `browser_timeout_seconds`. The
    document is asked for with the validators given: a 304 comes back as it is, unrendered."""
    guard = guard or source_guard(url)
    headers = dict(headers or {})
    document = fetcher.fetch(
        url, etag=etag, last_modified=last_modified, robots=robots, headers=headers, guard=guard
    )
    if document.not_modified:
        return document
    settings = fetcher.policy
    turns = PageTurns(fetcher.hosts, {_host(url), _host(document.url)})  # its fetch took one
    loads = Fetcher(
        replace(settings, attempts=1),
        agent=str(fetcher.session.headers["User-Agent"]),
        hosts=fetcher.hosts,
        dialer=fetcher.dialer,  # the same resolver, forbidden addresses and source kinds
        turns=turns.wait_turn,
    )
    visit = Visit(url, document, wait_for, robots, headers, guard, loads)
    try:
        return BROWSERS.render(visit, settings)
    finally:
        loads.close()


class Browsers:
    """The process's one Chromium, started on first use and closed when idle."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._playwright: Any = None
        self._browser: Any = None
        self._slots: asyncio.Semaphore | None = None
        self._starting: asyncio.Lock | None = None
        self._open = 0
        self._idle: asyncio.TimerHandle | None = None
        self.launches = 0  # how many times a browser was started (tests, benchmarks)

    def render(self, visit: Visit, settings: IngestConfig) -> Fetched:
        """Render on the browser's thread; this thread waits for the DOM or the error."""
        future = asyncio.run_coroutine_threadsafe(self._render(visit, settings), self._thread())
        return future.result()

    def close(self) -> None:
        """Close the browser now (process exit, tests); the next render starts another."""
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(30)

    def pids(self) -> list[int]:
        """The process ids of the running browser's processes (Linux; for measuring memory)."""
        return _chromium_descendants() if self._browser is not None else []

    def _thread(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="browser", daemon=True).start()
                atexit.register(self.close)
                self._loop = loop
            return self._loop

    async def _render(self, visit: Visit, settings: IngestConfig) -> Fetched:
        if self._slots is None:  # on the browser's thread: its loop owns them
            self._slots = asyncio.Semaphore(settings.browser_concurrency)
            self._starting = asyncio.Lock()
        async with self._slots:
            self._open += 1
            if self._idle is not None:
                self._idle.cancel()
            try:
                browser = await self._started()
                return await _render_page(browser, visit, settings)
            finally:
                self._open -= 1
                if not self._open:
                    self._idle = asyncio.get_running_loop().call_later(
                        IDLE_SECONDS, lambda: asyncio.ensure_future(self._close_if_idle())
                    )

    async def _started(self) -> Any:
        assert self._starting is not None
        async with self._starting:  # two pages at once start one browser
            if self._browser is None or not self._browser.is_connected():
                self._browser = await self._launched()
            return self._browser

    async def _launched(self) -> Any:
        try:
            from playwright.async_api import Error as PlaywrightError
            from playwright.async_api import async_playwright
        except ImportError:
            raise BrowserError(
                "Playwright is not installed: pip install 'feedsvc[browser]'"
            ) from None
        if not CHROMIUM.exists():
            raise BrowserError(
                f"{CHROMIUM} not found: apt-get install chromium (feedsvc never downloads one)"
            )
        try:
            if self._playwright is None:
                self._playwright = await async_playwright().start()
            browser = await self._playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                args=list(LAUNCH_ARGS),
                proxy={"server": UNANSWERED_PROXY},
            )
        except PlaywrightError as exc:
            raise BrowserError(f"could not start {CHROMIUM}: {_first_line(exc)}") from None
        self.launches += 1
        return browser

    async def _close_if_idle(self) -> None:
        if not self._open:
            await self._close()

    async def _close(self) -> None:
        browser, playwright = self._browser, self._playwright
        self._browser = self._playwright = None
        if not self._open:  # the next browser takes browser_concurrency anew
            self._slots = self._starting = None
        if browser is not None:
            await browser.close()
        if playwright is not None:
            await playwright.stop()


async def _render_page(browser: Any, visit: Visit, settings: IngestConfig) -> Fetched:
    """Open the page in a fresh context, wait as asked, and read the DOM."""
    from playwright.async_api import Error as PlaywrightError

    limit = settings.browser_timeout_seconds
    context = await browser.new_context(
        user_agent=str(visit.loads.session.headers["User-Agent"]), service_workers="block"
    )
    try:
        page = await context.new_page()
        await page.route("**/*", lambda route: _answer(route, visit))
        await page.route_web_socket("**/*", lambda socket: _socket_refused(visit))
        try:
            return await asyncio.wait_for(_visit(page, visit, settings), limit)
        except TimeoutError:
            raise BrowserError(f"timed out after {limit:g} s waiting for {visit.waiting}") from None
        except PlaywrightError as exc:
            raise BrowserError(f"{_first_line(exc)} ({visit.url})") from None
    finally:
        await context.close()


async def _visit(page: Any, visit: Visit, settings: IngestConfig) -> Fetched:
    started = time.monotonic()
    await page.goto(visit.url, wait_until="load", timeout=0)
    if visit.wait_for:
        visit.waiting = f"`{visit.wait_for}`"
        await page.wait_for_selector(visit.wait_for, state="attached", timeout=0)
    else:
        visit.waiting = "the page to settle (no request for 0.5 s)"
        await page.wait_for_load_state("networkidle", timeout=0)
    dom = (await page.content()).encode("utf-8")
    if len(dom) > settings.max_bytes:
        raise BrowserError(
            f"the rendered page holds {len(dom)} bytes, more than the {settings.max_bytes}-byte "
            f"cap: {visit.url}"
        )
    log.debug("browser: %s rendered in %.2f s", visit.url, time.monotonic() - started)
    document = visit.document
    whole = not visit.loaded_data  # the DOM follows from the document (and its code) alone
    return Fetched(
        url=document.url,  # where the redirects, if any, ended
        status=200,
        body=dom,
        encoding="utf-8",
        content_type="text/html; charset=utf-8",
        notes=tuple(visit.notes),
        # kept for the next conditional GET only when the document holds the page's data
        etag=document.etag if whole else None,
        last_modified=document.last_modified if whole else None,
    )


async def _answer(route: Any, visit: Visit) -> None:
    """Answer one request of the page through feedsvc's fetcher, or refuse it."""
    from playwright.async_api import Error as PlaywrightError

    try:
        await _answer_request(route, visit)
    except PlaywrightError:  # the page was closed (timed out) while this request was made
        log.debug("browser: %s answered after its page closed", route.request.url)


async def _answer_request(route: Any, visit: Visit) -> None:
    request = route.request
    url = request.url
    if request.resource_type in NOT_LOADED:
        await route.abort("blockedbyclient")
        return
    if not visit.opened and request.is_navigation_request():
        visit.opened = True
        # Redirects were followed (and counted) by the fetcher: the page gets the last answer
        # (Chromium would send a redirect fulfilled here past the routing, to the dead proxy).
        await _fulfil(route, visit.document)
        return
    if request.resource_type not in CODE:
        visit.loaded_data = True
    try:
        if request.method != "GET":
            raise Refused(f"refused {request.method} {url}: a page is read with GET only")
        asked = {
            name: value
            for name, value in (await request.all_headers()).items()
            if name in FORWARDED_HEADERS or name.startswith("x-")
        }
        fetched = await asyncio.get_running_loop().run_in_executor(None, _fetch, visit, url, asked)
    except Refused as exc:  # the guard said no before any connection was opened
        note = f"browser: {exc.reason} (asked by the page {visit.url})"
        visit.notes.append(note)
        log.warning("%s", note)
        await route.abort("blockedbyclient")
        return
    except FetchError as exc:
        visit.notes.append(f"browser: {exc.reason} (asked by the page {visit.url})")
        await route.abort("failed")
        return
    await _fulfil(route, fetched)


def _fetch(visit: Visit, url: str, asked: Mapping[str, str]) -> Fetched:
    """What the page asks for, at once or in its host's turn, with the headers its script
    set (the source's own win)."""
    headers = {**asked, **visit.headers}
    return visit.loads.fetch(
        url, robots=visit.robots, headers=headers, guard=visit.guard, accept=None
    )


def _socket_refused(visit: Visit) -> None:
    """A WebSocket is never connected; that the page wanted one says its data is elsewhere."""
    visit.loaded_data = True


def _host(url: str) -> str:
    """The host part the fetcher keys its turns by."""
    return urlsplit(url).netloc.lower()


async def _fulfil(route: Any, fetched: Fetched) -> None:
    headers = {"content-type": fetched.content_type} if fetched.content_type else {}
    await route.fulfill(status=fetched.status, headers=headers, body=fetched.body)


def _first_line(exc: Exception) -> str:
    """Playwright's messages run to many lines of call log: the first says what happened."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else repr(exc)


def _chromium_descendants() -> list[int]:
    """This process's descendants that run Chromium, read from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, pids = {os.getpid()}, []
    for pid in sorted(parents):  # children start after their parents: one ordered pass
        if parents[pid] in found:
            found.add(pid)
            command = Path(f"/proc/{pid}/cmdline")
            if command.exists() and "chromium" in command.read_bytes().split(b"\0")[0].decode():
                pids.append(pid)
    return pids


BROWSERS = Browsers()
