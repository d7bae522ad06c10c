"""Fetch a listing page over HTTP, politely; the only module that talks to the network.

Polite means: robots.txt is asked first, one host is never knocked on more often
than every `host_delay_seconds`, a failure worth retrying (timeout, reset, 5xx,
429) is retried a few times with growing, jittered waits, and a server's
Retry-After is honoured unless it asks for longer than we are willing to wait.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import requests
import urllib3.exceptions

from feedsvc.config import Config, IngestConfig
from feedsvc.config.environment import redact
from feedsvc.fetch.blocked import blocked_reason
from feedsvc.fetch.charset import page_encoding
from feedsvc.fetch.dial import Deadline, Dialer, deadline, guarded_by
from feedsvc.fetch.guard import Guard, RefusedURL, source_guard
from feedsvc.fetch.politeness import HOSTS, Hosts, retry_after_seconds
from feedsvc.version import __version__

log = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
HTML_TYPES = ("text/html", "application/xhtml+xml")
AGENT_TOKEN = "feedsvc"
PING_ATTEMPTS = 3
PING_BACKOFF_SECONDS = 0.5  # then doubled: a failing hub costs at most a few seconds
PING_TIMEOUT = (3.05, 5.0)  # connect, read


class FetchError(Exception):
    """A page could not be fetched; the message says why, prefixed with the stage."""

    def __init__(self, reason: str) -> None:
        reason = redact(reason)  # never show a value taken from the environment
        super().__init__(f"fetch: {reason}")
        self.reason = reason


class Refused(FetchError):
    """A URL the address guard refused: asking again gives the same answer."""


class Blocked(FetchError):
    """The site answered with a challenge or captcha page: a block, not a changed layout."""


class WrongType(FetchError):
    """A response of a media type the caller cannot read (a PDF for an HTML page): asking
    again gives the same answer."""


class _Retryable(Exception):
    """A failure that another attempt may not meet; `wait` is the server's Retry-After."""

    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.wait = reason, wait


class PingError(Exception):
    """A WebSub hub did not take a ping, even after retries; the message says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"websub: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class Fetched:
    """A response worth extracting: the final URL, the status (200 or 304) and the body."""

    url: str
    status: int
    body: bytes = b""
    encoding: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    content_length: int | None = None  # as the server announced it; a HEAD's only size
    notes: tuple[str, ...] = ()  # what went wrong on the way without failing (refused requests)

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def user_agent(base_url: str) -> str:
    """The User-Agent we send: names feedsvc, its version and where its operator can be found."""
    return f"{AGENT_TOKEN}/{__version__} (+{base_url})"


def make_fetcher(config: Config, dialer: Dialer | None = None) -> Fetcher:
    """The fetcher the config asks for; `dialer` resolves and refuses otherwise (tests)."""
    return Fetcher(config.ingest, agent=user_agent(config.service.base_url), dialer=dialer)


class Fetcher:
    """One requests session with timeouts, a User-Agent, a size cap and good manners."""

    def __init__(
        self,
        settings: IngestConfig,
        *,
        agent: str,
        hosts: Hosts = HOSTS,
        dialer: Dialer | None = None,
        turns: Callable[[str, float], None] | None = None,  # a rendered page's (PageTurns)
    ) -> None:
        timeout = settings.timeout_seconds
        self.timeout = (min(timeout, 10.0), timeout)
        self.deadline = timeout
        self.max_bytes = settings.max_bytes
        self.policy = settings
        self.hosts = hosts
        self.wait_turn = turns or hosts.wait_turn
        self.dialer = dialer or Dialer()
        self.session = self.dialer.session()  # the only way out: see fetch.dial
        self.session.max_redirects = self.policy.max_redirects
        self.session.headers["User-Agent"] = agent
        self.session.headers["Accept"] = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"
        if settings.proxy:
            self.session.proxies = {"http": settings.proxy, "https": settings.proxy}

    def close(self) -> None:
        self.session.close()

    def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        robots: bool = True,
        guard: Guard,
        accept: tuple[str, ...] | None = HTML_TYPES,
        headers: Mapping[str, str] | None = None,
    ) -> Fetched:
        """GET an HTML page (or what `accept` lists; None: anything), conditionally when
        validators from the last fetch are given. `guard` vets the URL, robots.txt and every
        redirect before each connection: `source_guard(source.url)` for a source's own pages,
        whatever page a link came from, `address_guard` for item pages. `headers` are the
        source's own (a cookie, a language)."""
        _vet(guard, url)
        if robots:
            self._check_robots(url, guard)
        else:
            log.warning("robots.txt not consulted for %s (robots = false for this source)", url)
        headers = dict(headers or {})
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        fetched = self._get(url, headers, guard)
        if fetched.not_modified:
            return Fetched(url=fetched.url, status=304, etag=etag, last_modified=last_modified)
        if fetched.status != 200:
            raise FetchError(f"HTTP {fetched.status} {_reason(fetched.status)} from {url}")
        media_type = (fetched.content_type or "").split(";")[0].strip().lower()
        if accept and media_type and media_type not in accept:
            wanted = "an HTML page" if accept == HTML_TYPES else "a feed"
            raise WrongType(f"expected {wanted}, got Content-Type {media_type} from {url}")
        return fetched

    def head(self, url: str, guard: Guard, *, robots: bool = True) -> Fetched:
        """HEAD a file a page links to (an item's image) with the same manners as a page fetch.

        The answer carries the file's announced Content-Length and Content-Type and no body.
        """
        _vet(guard, url)
        if robots:
            self._check_robots(url, guard)
        fetched = self._get(url, {"Accept": "image/*,*/*;q=0.5"}, guard, method="HEAD")
        if fetched.status != 200:
            raise FetchError(f"HTTP {fetched.status} {_reason(fetched.status)} from HEAD {url}")
        return fetched

    def _check_robots(self, url: str, guard: Guard) -> None:
        """Refuse a URL the host's robots.txt keeps from us; read it at most once an hour."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        rules = self.hosts.robots(origin)
        if rules is None:
            with self.hosts.robots_turn(origin):  # one thread asks; the others use its answer
                rules = self.hosts.robots(origin) or self._read_robots_of(origin, url, guard)
        if not rules.can_fetch(AGENT_TOKEN, url):
            raise FetchError(f"{origin}/robots.txt disallows {url} for {AGENT_TOKEN}")

    def _read_robots_of(self, origin: str, url: str, guard: Guard) -> RobotFileParser:
        """The origin's rules, read now and kept; a refused origin is named by `url`."""
        try:
            rules = self._read_robots(origin + "/robots.txt", guard)
        except Refused as exc:  # the origin itself is refused: say so of the page asked for
            raise Refused(exc.reason.replace(f"{origin}/robots.txt", url, 1)) from None
        self.hosts.remember_robots(origin, rules)
        return rules

    def _read_robots(self, robots_url: str, guard: Guard) -> RobotFileParser:
        """RFC 9309: 4xx means no rules, 401/403 keeps us out; an unreadable file stops us."""
        fetched = self._get(robots_url, {}, guard)
        rules = RobotFileParser(robots_url)
        if fetched.status in (401, 403):
            rules.disallow_all = True
        elif fetched.status >= 400:
            rules.allow_all = True
        else:
            rules.parse(fetched.body.decode("utf-8", errors="replace").splitlines())
        return rules

    def _get(
        self,
        url: str,
        headers: dict[str, str],
        guard: Guard,
        method: str = "GET",
    ) -> Fetched:
        """One GET (or HEAD) with bounded retries; raises FetchError once they are spent."""
        host = urlsplit(url).netloc.lower()
        attempts = self.policy.attempts
        attempt = 1
        while True:
            self.wait_turn(host, self.policy.host_delay_seconds)
            try:
                return self._get_once(url, headers, guard, method)
            except _Retryable as failure:
                if attempt == attempts:
                    raise FetchError(failure.reason) from None
                wait = self._wait_before_retry(failure, attempt)
                log.warning(
                    "fetch: %s; attempt %d of %d, next in %.1f s",
                    failure.reason,
                    attempt,
                    attempts,
                    wait,
                )
                time.sleep(wait)
                attempt += 1

    def _wait_before_retry(self, failure: _Retryable, attempt: int) -> float:
        """Exponential backoff with jitter, or the server's Retry-After if it asks for longer."""
        cap = self.policy.max_wait_seconds
        if failure.wait is not None and failure.wait > cap:
            raise FetchError(
                f"{failure.reason} asks to retry after {failure.wait:.0f} s, more than "
                f"max_wait_seconds = {cap:g}; the next scheduled run will try again"
            )
        backoff = min(cap, self.policy.backoff_seconds * 2 ** (attempt - 1))
        jittered = backoff * random.uniform(0.5, 1.0)  # spread retries of many sources apart
        return max(jittered, failure.wait or 0.0)

    def _get_once(self, url: str, headers: dict[str, str], guard: Guard, method: str) -> Fetched:
        """One request; any transient failure becomes _Retryable, a final one FetchError."""
        with deadline(self.deadline) as limit:
            try:
                fetched = self._exchange(url, headers, guard, method, limit)
            except (requests.RequestException, urllib3.exceptions.HTTPError, RefusedURL) as exc:
                raise self._failure(exc, url, limit) from None
            if limit.expired.is_set():  # headers cut short by the deadline can look complete
                raise self._failure(TimeoutError(), url, limit)
            return fetched

    def _exchange(
        self, url: str, headers: dict[str, str], guard: Guard, method: str, limit: Deadline
    ) -> Fetched:
        """The request, its redirects and its body, read whole (so the connection can be
        reused); a HEAD has no body to read."""
        with (
            guarded_by(guard),
            self.session.request(
                method, url, headers=headers, timeout=self.timeout, stream=True
            ) as resp,
        ):
            status = resp.status_code
            body = b"" if method == "HEAD" else self._read_capped(resp, url, limit)
            if blocked := blocked_reason(status, body, url):
                raise Blocked(blocked)  # asking again meets the same wall
            if status == 429 or status >= 500:
                raise _Retryable(
                    f"HTTP {status} {_reason(status)} from {url}",
                    retry_after_seconds(resp.headers.get("Retry-After"))
                    if status in (429, 503)
                    else None,
                )
            content_type = resp.headers.get("Content-Type", "")
            return Fetched(
                url=resp.url,
                status=status,
                body=body,
                encoding=page_encoding(body, resp.encoding if "charset" in content_type else None),
                etag=resp.headers.get("ETag"),
                last_modified=resp.headers.get("Last-Modified"),
                content_type=content_type or None,
                content_length=_declared_length(resp.headers.get("Content-Length")),
            )

    def _failure(self, exc: Exception, url: str, limit: Deadline) -> Exception:
        """What a failed request is reported as: refused and final, or worth another try."""
        if isinstance(exc, RefusedURL):
            return Refused(str(exc))
        if limit.expired.is_set() and limit.received:
            return _Retryable(
                f"response took longer than {self.deadline:g} s to arrive ({limit.received} "
                f"bytes so far): {url}"
            )
        if limit.expired.is_set() or isinstance(
            exc, requests.Timeout | urllib3.exceptions.TimeoutError
        ):  # silent, or its headers trickling in
            return _Retryable(f"timed out after {self.timeout[1]:g} s fetching {url}")
        if isinstance(exc, requests.TooManyRedirects):
            return FetchError(
                f"too many redirects (more than {self.policy.max_redirects}) from {url}"
            )
        if isinstance(exc, requests.ConnectionError | urllib3.exceptions.ProtocolError):
            return _Retryable(f"{type(exc).__name__} fetching {url}: {exc}")
        return FetchError(f"{type(exc).__name__} fetching {url}: {exc}")

    def ping_hub(self, hub: str, urls: Sequence[str]) -> None:
        """Tell a WebSub hub that `urls` changed: one form-encoded POST, retried with backoff.

        `hub.url` is repeated, once per URL, as PubSubHubbub hubs accept. A 4xx
        other than 429 is final; server errors and network failures are retried.
        """
        form = [("hub.mode", "publish"), *(("hub.url", url) for url in urls)]
        reason = ""
        for attempt in range(PING_ATTEMPTS):
            if attempt:
                time.sleep(PING_BACKOFF_SECONDS * 2 ** (attempt - 1))
            try:
                with (
                    guarded_by(source_guard(hub)),
                    self.session.post(
                        hub, data=form, timeout=PING_TIMEOUT, allow_redirects=False
                    ) as resp,
                ):
                    if 200 <= resp.status_code < 300:
                        return
                    reason = f"HTTP {resp.status_code} {resp.reason}"
                    if 400 <= resp.status_code < 500 and resp.status_code != 429:
                        break
            except requests.RequestException as exc:
                reason = f"{type(exc).__name__}: {exc}"
            except RefusedURL as exc:
                reason = str(exc)
                break
        raise PingError(f"hub {hub} did not take the ping for {urls[0]}: {reason}")

    def _read_capped(self, resp: requests.Response, url: str, limit: Deadline) -> bytes:
        """The body, refused when it grows past the size cap or trickles in past the deadline."""
        declared = _declared_length(resp.headers.get("Content-Length"))
        if declared is not None and declared > self.max_bytes:
            raise FetchError(
                f"response of {declared} bytes exceeds the {self.max_bytes}-byte cap: {url}"
            )
        chunks, size = [], 0
        while chunk := resp.raw.read1(CHUNK_BYTES, decode_content=True):
            size += len(chunk)
            limit.received = size
            if size > self.max_bytes:
                raise FetchError(f"response exceeds the {self.max_bytes}-byte cap: {url}")
            if time.monotonic() - limit.started > self.deadline:
                raise _Retryable(
                    f"response took longer than {self.deadline:g} s to arrive ({size} bytes "
                    f"so far): {url}"
                )
            chunks.append(chunk)
        return b"".join(chunks)


def _vet(guard: Guard, url: str) -> None:
    """Refuse a URL whose scheme or host the guard rejects, as a fetch error, before any
    lookup; its addresses are checked as each connection is made (fetch.dial)."""
    try:
        guard.vet_url(url)
    except RefusedURL as exc:
        raise Refused(str(exc)) from None


def _declared_length(value: str | None) -> int | None:
    """A Content-Length header as a number of bytes; None when absent or not a plain number."""
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() else None


def _reason(status: int) -> str:
    """The standard reason phrase of a status code, whatever the server wrote beside it."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown Status"
