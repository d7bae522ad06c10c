"""Answer feed requests from worker memory: prebuilt headers, no query, no rendering.

Each worker keeps the documents it has served, keyed by (path, format, limit). On SQLite
the publisher replaces a small marker file after every publish (export.bump_generation);
one os.stat per request tells a worker whether its entries are still current, so a
changed feed is served at once and an unchanged one costs about a constant response.
On PostgreSQL the stamp is instead the store's publish version, which a thread of the
worker keeps current (invalidation.PublishWatch): one attribute read per request.
The header rules themselves are in `headers`, shared with the export.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from flask import Response
from werkzeug.datastructures import Headers as HeaderMap
from werkzeug.http import parse_date, parse_etags

from feedsvc.config import Config
from feedsvc.formats import gzipped
from feedsvc.headers import Headers, feed_headers
from feedsvc.model import Rendered

MAX_BYTES = 4 * 1024 * 1024


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
            return PrebuiltResponse(304, self.not_modified_headers)
        return PrebuiltResponse(200, self.headers, self.body)

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
    """A response whose headers were validated and completed when its document was cached.

    werkzeug copies and re-validates every header again just before sending; these need
    none of its fixes (no Location, Content-Length set, a 304 without entity headers), so
    the WSGI response is handed over as it was built (Response.get_wsgi_response).
    """

    default_mimetype = None  # the prebuilt headers bring their own Content-Type

    def __init__(self, status: int, headers: Headers, body: bytes = b"") -> None:
        super().__init__(status=status)
        self.prebuilt = headers
        self.prebuilt_body = body

    def get_wsgi_response(self, environ: dict) -> tuple[list[bytes], str, Headers]:
        """The body (none for HEAD or a 304), the status line and the prebuilt headers."""
        send_body = self.prebuilt_body and environ.get("REQUEST_METHOD") != "HEAD"
        return [self.prebuilt_body] if send_body else [], self.status, list(self.prebuilt)


@dataclass(slots=True)
class Entry:
    """A rendered feed ready to answer: its plain and gzip variants. A document rendered for
    a request (a search) comes without its gzip copy: it is compressed by the first request
    that accepts gzip, so a reader that does not pays nothing for it."""

    plain: Variant
    gzip: Variant | None
    size: int  # a gzip copy still to make is counted as large as the plain bytes
    pending: tuple[Rendered, str, Config] | None = None

    @classmethod
    def build(cls, out: Rendered, fmt: str, config: Config) -> Entry:
        """Both variants of one rendered feed, with their headers (gzip later when `out` has
        no gzip copy)."""
        plain = Variant.build(out.body, feed_headers(out, fmt, config, False))
        if not out.gzip_body:
            return cls(plain, None, 2 * len(out.body), (out, fmt, config))
        gzip = Variant.build(out.gzip_body, feed_headers(out, fmt, config, True))
        return cls(plain, gzip, len(out.body) + len(out.gzip_body))

    def respond(self, environ: dict) -> Response:
        """The gzip variant when the client accepts it, as the app always did."""
        if "gzip" not in environ.get("HTTP_ACCEPT_ENCODING", ""):
            return self.plain.respond(environ)
        return self._gzip().respond(environ)

    def _gzip(self) -> Variant:
        """The gzip variant, compressed now if this is the first request to take it (two
        threads racing here make the same bytes)."""
        if self.gzip is None:
            out, fmt, config = self.pending  # type: ignore[misc]
            self.gzip = Variant.build(gzipped(out.body), feed_headers(out, fmt, config, True))
        return self.gzip


@dataclass
class _Generation:
    """The entries kept for one state of the marker file."""

    stamp: Hashable | None
    entries: dict[tuple[str, str, int], Entry] = field(default_factory=dict)
    size: int = 0


def marker_stamp(marker: Path) -> tuple[int, int] | None:
    """The marker file's identity (inode, mtime), None when there is none yet."""
    try:
        stat = os.stat(marker)
    except OSError:
        return None
    return (stat.st_ino, stat.st_mtime_ns)


class FeedCache:
    """A worker's rendered feeds, dropped whenever the publish stamp changes.

    `source` is the generation marker file, or a callable giving the current stamp (None
    while unknown, and then nothing is kept).
    """

    def __init__(
        self, source: Path | Callable[[], Hashable | None], max_bytes: int = MAX_BYTES
    ) -> None:
        self.stamp = source if callable(source) else lambda: marker_stamp(source)
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
        """The current generation; a fresh one when the stamp changed since the last request.

        Without a stamp (no publisher on this host yet) nothing is kept: nothing would
        tell this worker when to drop it.
        """
        stamp = self.stamp()
        if stamp is None:
            return _Generation(None)
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
