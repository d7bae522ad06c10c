"""Fetch a listing page over HTTP; the only module that talks to the network."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import requests

from feedsvc import __version__

CHUNK_BYTES = 64 * 1024
PING_ATTEMPTS = 3
PING_BACKOFF_SECONDS = 0.5  # then doubled: a failing hub costs at most a few seconds
PING_TIMEOUT = (3.05, 5.0)  # connect, read


class FetchError(Exception):
    """A page could not be fetched; the message says why, prefixed with the stage."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"fetch: {reason}")
        self.reason = reason


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

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def user_agent(base_url: str) -> str:
    """The User-Agent we send: names feedsvc, its version and where its operator can be found."""
    return f"feedsvc/{__version__} (+{base_url})"


class Fetcher:
    """One requests session with timeouts, a User-Agent and a cap on response size."""

    def __init__(self, *, timeout: float, max_bytes: int, agent: str) -> None:
        self.timeout = (min(timeout, 10.0), timeout)
        self.max_bytes = max_bytes
        self.session = requests.Session()
        self.session.headers["User-Agent"] = agent
        self.session.headers["Accept"] = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"

    def close(self) -> None:
        self.session.close()

    def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> Fetched:
        """GET `url`, conditionally when validators from the last fetch are given."""
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            with self.session.get(url, headers=headers, timeout=self.timeout, stream=True) as resp:
                if resp.status_code == 304:
                    return Fetched(url=resp.url, status=304, etag=etag, last_modified=last_modified)
                if resp.status_code != 200:
                    raise FetchError(f"HTTP {resp.status_code} {resp.reason} from {url}")
                body = self._read_capped(resp, url)
                return Fetched(
                    url=resp.url,
                    status=200,
                    body=body,
                    encoding=resp.encoding
                    if "charset" in resp.headers.get("Content-Type", "")
                    else None,
                    etag=resp.headers.get("ETag"),
                    last_modified=resp.headers.get("Last-Modified"),
                )
        except requests.Timeout:
            raise FetchError(f"timed out after {self.timeout[1]:g} s fetching {url}") from None
        except requests.TooManyRedirects:
            raise FetchError(f"too many redirects from {url}") from None
        except requests.RequestException as exc:
            raise FetchError(f"{type(exc).__name__} fetching {url}: {exc}") from None

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
                with self.session.post(
                    hub, data=form, timeout=PING_TIMEOUT, allow_redirects=False
                ) as resp:
                    if 200 <= resp.status_code < 300:
                        return
                    reason = f"HTTP {resp.status_code} {resp.reason}"
                    if 400 <= resp.status_code < 500 and resp.status_code != 429:
                        break
            except requests.RequestException as exc:
                reason = f"{type(exc).__name__}: {exc}"
        raise PingError(f"hub {hub} did not take the ping for {urls[0]}: {reason}")

    def _read_capped(self, resp: requests.Response, url: str) -> bytes:
        declared = resp.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(
                f"response of {declared} bytes exceeds the {self.max_bytes}-byte cap: {url}"
            )
        chunks, size = [], 0
        for chunk in resp.iter_content(CHUNK_BYTES):
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchError(f"response exceeds the {self.max_bytes}-byte cap: {url}")
            chunks.append(chunk)
        return b"".join(chunks)
