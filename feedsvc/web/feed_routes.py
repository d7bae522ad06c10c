"""Feed, archive-page and digest views: published bytes from the worker's cache or the store.

What the publisher does not keep (a `?limit=`, or a document asked for before its first
publish) is rendered in memory by `feedsvc.publish.live`, imported on first use, and never saved.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from flask import Blueprint, Flask, Response, request
from werkzeug.exceptions import BadRequest, NotFound

from feedsvc.config import Config
from feedsvc.formats import FORMATS, MEDIA_TYPES, STYLED_FORMATS
from feedsvc.headers import BROWSER_VARY
from feedsvc.keys import ArchiveKey, DigestKey, DocumentKey, FeedKey
from feedsvc.model import Rendered
from feedsvc.web.cache import Entry
from feedsvc.web.service import Service, check_exists, known_topic, service

bp = Blueprint("feeds", __name__)


def init_app(app: Flask) -> None:
    """Serve feeds, archive pages and digests."""
    app.register_blueprint(bp)


@bp.get("/topics/<topic>/feed.<fmt>")
def topic_feed(topic: str, fmt: str) -> Response:
    return _feed(FeedKey(topic=topic), fmt)


@bp.get("/types/<type_slug>/feed.<fmt>")
def type_feed(type_slug: str, fmt: str) -> Response:
    return _feed(FeedKey(type=type_slug), fmt)


@bp.get("/topics/<topic>/types/<type_slug>/feed.<fmt>")
def topic_type_feed(topic: str, type_slug: str, fmt: str) -> Response:
    return _feed(FeedKey(topic=topic, type=type_slug), fmt)


@bp.get("/feeds/<slug>/feed.<fmt>")
def custom_feed(slug: str, fmt: str) -> Response:
    """An operator's filtered feed ([[custom_feeds]])."""
    return _feed(FeedKey(custom=slug), fmt)


@bp.get("/feeds/<slug>/archive/<int:page>.<fmt>")
def custom_archive(slug: str, page: int, fmt: str) -> Response:
    """Page `page` of a filtered feed's archive."""
    return _archive(ArchiveKey(FeedKey(custom=slug), page), fmt)


@bp.get("/topics/<topic>/archive/<int:page>.<fmt>")
def topic_archive(topic: str, page: int, fmt: str) -> Response:
    """Page `page` of a topic feed's archive."""
    return _archive(ArchiveKey(FeedKey(topic=topic), page), fmt)


@bp.get("/types/<type_slug>/archive/<int:page>.<fmt>")
def type_archive(type_slug: str, page: int, fmt: str) -> Response:
    """Page `page` of a type feed's archive."""
    return _archive(ArchiveKey(FeedKey(type=type_slug), page), fmt)


@bp.get("/topics/<topic>/types/<type_slug>/archive/<int:page>.<fmt>")
def topic_type_archive(topic: str, type_slug: str, page: int, fmt: str) -> Response:
    """Page `page` of a topic-and-type feed's archive."""
    return _archive(ArchiveKey(FeedKey(topic=topic, type=type_slug), page), fmt)


@bp.get("/topics/<topic>/digest/weekly.<fmt>")
def topic_digest(topic: str, fmt: str) -> Response:
    """A topic's weekly digest, rendered again once the current week has closed."""
    svc = service()
    check_format(fmt)
    topic_config = known_topic(svc, topic)
    now = datetime.now(UTC)
    out = svc.store.rendered(DigestKey(topic), fmt, svc.config.feeds.default_limit)
    if out is None or (out.stale_at is not None and out.stale_at <= now):
        from feedsvc.publish import live  # the week closed before the scheduler rendered it again

        return _respond_feed(live.digest(svc.full_store, svc.config, topic_config, fmt, now), fmt)
    return _serve(DigestKey(topic), fmt, svc.config.feeds.default_limit, lambda: out)


def _feed(key: FeedKey, fmt: str) -> Response:
    svc = service()
    check_format(fmt)
    limit = requested_limit(svc.config)
    return _serve(key, fmt, limit, lambda: _feed_bytes(svc, key, fmt, limit))


def _serve(key: DocumentKey, fmt: str, limit: int, load: Callable[[], Rendered]) -> Response:
    """Answer from this worker's cache, loading the document once per publish; or its page."""
    if _is_browser_navigation(fmt):
        return _browser_view(load())
    entry = service().cache.get(
        (key.path, fmt, limit), lambda: Entry.build(load(), fmt, service().config)
    )
    return entry.respond(request.environ)


def _feed_bytes(svc: Service, key: FeedKey, fmt: str, limit: int) -> Rendered:
    """The published bytes of a feed; a `?limit=` (or a feed not yet published) rendered now."""
    out = svc.store.rendered(key, fmt, limit)
    if out is None:
        check_exists(svc, key)
        from feedsvc.publish import live

        out = live.feed(svc.full_store, svc.config, key, fmt, limit)
    return out


def _archive(key: ArchiveKey, fmt: str) -> Response:
    """Serve an archive page; an unknown feed or page is a 404 that says which."""
    svc = service()
    check_format(fmt)
    return _serve(
        key, fmt, svc.config.feeds.archive_page_size, lambda: _archive_bytes(svc, key, fmt)
    )


def _archive_bytes(svc: Service, key: ArchiveKey, fmt: str) -> Rendered:
    """A published archive page, or one the publisher has not reached yet, rendered now."""
    out = svc.store.rendered(key, fmt, svc.config.feeds.archive_page_size)
    if out is None:
        from feedsvc.publish import live

        out = live.archive_page(svc.full_store, svc.config, key, fmt)
    if out is None:
        check_exists(svc, key.feed)
        raise NotFound(f"no archive page {key.page} of {key.feed.path}")
    return out


def check_format(fmt: str) -> None:
    """An unknown extension is a 404 naming the formats there are."""
    if fmt not in FORMATS:
        raise NotFound(f"unknown feed format {fmt!r}; expected one of: {', '.join(FORMATS)}")


def requested_limit(config: Config) -> int:
    raw = request.args.get("limit") if request.query_string else None
    if raw is None:
        return config.feeds.default_limit
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= config.feeds.max_limit:
        raise BadRequest(f"limit must be a whole number from 1 to {config.feeds.max_limit}")
    return int(raw)


def _respond_feed(out: Rendered, fmt: str) -> Response:
    """Uncached bytes (a digest rendered just now), or for a browser tab, the readable page."""
    if _is_browser_navigation(fmt):
        return _browser_view(out)
    return Entry.build(out, fmt, service().config).respond(request.environ)


def _is_browser_navigation(fmt: str) -> bool:
    """A person opened an RSS or Atom feed in a browser tab: a navigation that prefers HTML.

    Feed readers never send `Sec-Fetch-Dest: document`, so they always get the raw feed;
    the header is read straight from the environ, as this check runs on every feed request.
    """
    if request.environ.get("HTTP_SEC_FETCH_DEST") != "document" or fmt not in STYLED_FORMATS:
        return False
    feed_type = MEDIA_TYPES[fmt].split(";")[0]
    return request.accept_mimetypes.best_match([feed_type, "text/html"]) == "text/html"


def _browser_view(out: Rendered) -> Response:
    """The feed through feed.xsl on the server: browsers show feed media types as plain text."""
    from feedsvc.web.feed_html import browser_page  # lxml's XSLT, loaded when a browser first asks

    response = Response(browser_page(out.body), content_type="text/html; charset=utf-8")
    response.last_modified = out.last_modified
    response.add_etag()
    response.vary.update(BROWSER_VARY)
    return response.make_conditional(request)
