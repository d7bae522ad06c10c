"""Answer feed requests from worker memory: prebuilt headers, no query, no rendering.

Each worker keeps the rendered feeds it has served, keyed by (feed path, format, limit).
The publisher replaces a small marker file after every publish (export.bump_generation);
one os.stat per request tells a worker whether its entries are still current, so a
changed feed is served at once and an unchanged one costs about a constant response.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from flask import Response
from werkzeug.datastructures import Headers as HeaderMap
from werkzeug.http import http_date, parse_date, parse_etags

from feedsvc.config import Config
from feedsvc.render import FORMATS, STYLED_FORMATS
from feedsvc.store import Rendered

MAX_BYTES = 4 * 1024 * 1024
FINAL_MAX_AGE = 365 * 24 * 3600  # a complete archive page never changes
# RSS and Atom opened in a browser tab get a readable page instead (web._browser_view).
BROWSER_VARY = ("Accept", "Sec-Fetch-Dest")
Headers = list[tuple[str, str]]
# script-src governs XSLT too: 'self' lets a browser apply /static/feed.xsl to a feed.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' https: http: data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


def max_age(config: Config, out: Rendered) -> int:
    """Seconds a reader may keep a document: a year if final, else the ingest interval (<= 1 h)."""
    return FINAL_MAX_AGE if out.final else min(config.ingest.interval_minutes, 60) * 60


def feed_headers(out: Rendered, fmt: str, config: Config, gzipped: bool) -> Headers:
    """The headers of a 200 feed response; the app and the static tier both send exactly these."""
    headers = [("Content-Type", FORMATS[fmt].media_type)]
    if gzipped:
        headers.append(("Content-Encoding", "gzip"))
    vary = ", ".join(("Accept-Encoding", *(BROWSER_VARY if fmt in STYLED_FORMATS else ())))
    return [
        *headers,
        ("ETag", '"' + out.etag.strip('"') + ('-gz"' if gzipped else '"')),
        ("Last-Modified", http_date(out.last_modified)),
        ("Vary", vary),
        ("Cache-Control", f"public, max-age={max_age(config, out)}"),
        *SECURITY_HEADERS.items(),
    ]


@dataclass(frozen=True, slots=True)
class Variant:
    """One encoding of a feed with its 200 and 304 headers built once."""

    body: bytes
    headers: Headers
    not_modified_headers: Headers
    etag: str
    last_modified_http: str
    last_modified: datetime

    @classmethod
    def build(cls, body: bytes, headers: Headers) -> Variant:
        """Precompute what requests compare against; a 304 keeps only ETag, Vary, Cache-Control."""
        headers = [*headers, ("Content-Length", str(len(body)))]
        headers = HeaderMap(headers).to_wsgi_list()  # validated here, once, not per response
        values = dict(headers)
        last_modified = values["Last-Modified"]
        return cls(
            body=body,
            headers=headers,
            not_modified_headers=[h for h in headers if h[0] in ("ETag", "Vary", "Cache-Control")],
            etag=values["ETag"],
            last_modified_http=last_modified,
            last_modified=parse_date(last_modified),  # type: ignore[arg-type]
        )

    def respond(self, environ: dict) -> Response:
        """200 or 304 by werkzeug's rules, skipping its per-request parsing in the usual case."""
        if "HTTP_IF_MATCH" in environ:  # rare: werkzeug's full rules (412 and all)
            return Response(self.body, headers=self.headers).make_conditional(environ)
        if self.not_modified(environ):
            return PrebuiltResponse(status=304, headers=_copy(self.not_modified_headers))
        response = PrebuiltResponse(headers=_copy(self.headers))
        response.response = [self.body]  # its Content-Length is among the headers already
        return response

    def not_modified(self, environ: dict) -> bool:
        """If-None-Match decides when present (weak comparison), else If-Modified-Since."""
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        if if_none_match == self.etag:
            return True
        if if_none_match:
            tags = parse_etags(if_none_match)
            if tags:
                return tags.contains_weak(self.etag.strip('"'))
        since = environ.get("HTTP_IF_MODIFIED_SINCE")
        if not since:
            return False
        if since == self.last_modified_http:
            return True
        parsed = parse_date(since)
        return parsed is not None and self.last_modified <= parsed


class PrebuiltResponse(Response):
    """A response whose headers were validated and completed when its feed was cached.

    werkzeug copies and re-validates every header again just before sending; these need
    none of its fixes (no Location, Content-Length set, a 304 without entity headers).
    """

    automatically_set_content_length = False
    default_mimetype = None  # a 304 has no Content-Type; a 200 brings its own

    def get_wsgi_headers(self, environ: dict) -> HeaderMap:
        return self.headers


def _copy(validated: Headers) -> HeaderMap:
    """A response's own header map from a list validated when the feed was cached.

    Headers(list) checks every value again on each response, a cost as large as the rest
    of a cached answer; the list was checked once in Variant.build.
    """
    headers = HeaderMap()
    headers._list = list(validated)  # werkzeug keeps its (name, value) pairs in _list
    return headers


@dataclass(frozen=True, slots=True)
class Entry:
    """A rendered feed ready to answer: its plain and gzip variants."""

    plain: Variant
    gzip: Variant
    size: int

    @classmethod
    def build(cls, out: Rendered, fmt: str, config: Config) -> Entry:
        """Both variants of one rendered feed, with their headers."""
        return cls(
            plain=Variant.build(out.body, feed_headers(out, fmt, config, False)),
            gzip=Variant.build(out.gzip_body, feed_headers(out, fmt, config, True)),
            size=len(out.body) + len(out.gzip_body),
        )

    def respond(self, environ: dict) -> Response:
        """The gzip variant when the client accepts it, as the app always did."""
        gzipped = "gzip" in environ.get("HTTP_ACCEPT_ENCODING", "")
        return (self.gzip if gzipped else self.plain).respond(environ)


@dataclass
class _Generation:
    """The entries kept for one state of the marker file."""

    stamp: tuple[int, int] | None
    entries: dict[tuple[str, str, int], Entry] = field(default_factory=dict)
    size: int = 0


class FeedCache:
    """A worker's rendered feeds, dropped whenever the publish generation marker changes."""

    def __init__(self, marker: Path, max_bytes: int = MAX_BYTES) -> None:
        self.marker = marker
        self.max_bytes = max_bytes
        self._current = _Generation(None)

    def get(self, key: tuple[str, str, int], build: Callable[[], Entry]) -> Entry:
        """The entry for `key`, built (from the store) only when this generation lacks it."""
        generation = self._generation()
        entry = generation.entries.get(key)
        if entry is None:
            entry = build()
            self._keep(generation, key, entry)
        return entry

    def _generation(self) -> _Generation:
        """The current generation; a fresh one when the marker changed since the last request.

        Without a marker (no publisher on this host yet) nothing is kept: nothing would
        tell this worker when to drop it.
        """
        try:
            stat = os.stat(self.marker)
        except OSError:
            return _Generation(None)
        stamp = (stat.st_ino, stat.st_mtime_ns)
        current = self._current
        if current.stamp != stamp:
            current = self._current = _Generation(stamp)
        return current

    def _keep(self, generation: _Generation, key: tuple[str, str, int], entry: Entry) -> None:
        """Keep an entry in the generation it was loaded under, within the memory budget.

        A generation replaced meanwhile is simply dropped with what it holds, so an
        entry read before a publish never outlives it.
        """
        if generation.stamp is None or entry.size > self.max_bytes:
            return
        if generation.size + entry.size > self.max_bytes:
            generation.entries.clear()
            generation.size = 0
        generation.entries[key] = entry
        generation.size += entry.size
