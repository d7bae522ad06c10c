"""The headers a published document is served with: one set of rules, no web framework.

The web tier answers with exactly these, and the export writes them beside each file
so the static tier (nginx) sends the same bytes under the same validators.
"""

from __future__ import annotations

from email.utils import format_datetime

from feedsvc.config import Config
from feedsvc.formats import MEDIA_TYPES, STYLED_FORMATS
from feedsvc.model import Rendered

FINAL_MAX_AGE = 365 * 24 * 3600  # a complete archive page never changes
# RSS and Atom opened in a browser tab get a readable page instead (web.feeds._browser_view).
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


def http_date(value: object) -> str:
    """An HTTP date (RFC 9110 IMF-fixdate) of an aware datetime."""
    return format_datetime(value, usegmt=True)  # type: ignore[arg-type]


def feed_headers(out: Rendered, fmt: str, config: Config, gzipped: bool) -> Headers:
    """The headers of a 200 feed response; the app and the static tier both send exactly these."""
    headers = [("Content-Type", MEDIA_TYPES[fmt])]
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
