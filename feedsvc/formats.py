"""The feed formats served, by file extension, and where static files live. Pure and light.

The renderers themselves (feedgen, lxml) are in `render`; the web tier needs only the
names and media types here, so a worker that serves published bytes never loads them.
"""

from __future__ import annotations

import gzip
from urllib.parse import urlsplit

MEDIA_TYPES: dict[str, str] = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}
FORMATS: tuple[str, ...] = tuple(MEDIA_TYPES)
STYLED_FORMATS = frozenset({"rss", "atom"})  # carry <?xml-stylesheet?> for the browser view
FEED_STYLESHEET = "feed.xsl"


def static_url(base_url: str, name: str) -> str:
    """A root-relative URL of a static file: same-origin wherever the page is opened from.

    Browsers apply an XSL stylesheet only from the document's own origin, so the
    path keeps base_url's prefix but not its host.
    """
    return f"{urlsplit(base_url).path.rstrip('/')}/static/{name}"


def gzipped(body: bytes) -> bytes:
    """The gzip copy of a document as every tier serves it (no timestamp: same bytes, same ETag)."""
    return gzip.compress(body, compresslevel=6, mtime=0)
