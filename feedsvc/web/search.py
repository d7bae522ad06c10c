"""Search feeds: /search/feed.{rss,atom,json}?q=... and the page /search?q=... .

A search is one indexed query (store/search_reads.py) whose answer, rendered, is kept in
the worker's search cache per query, format and limit until the next publish, so a
repeated request costs a lookup and its ETag answers 304. A malformed query is a 400 that
says why (query.parse_query bounds its length, terms and wildcards).
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Flask, Response, render_template, request
from werkzeug.exceptions import BadRequest

from feedsvc.formats import FEED_STYLESHEET, FORMATS, MEDIA_TYPES, static_url
from feedsvc.model import EPOCH, FeedDoc, Rendered, StoredItem
from feedsvc.query import Query, QueryError, parse_query
from feedsvc.web.cache import Entry
from feedsvc.web.feed_routes import check_format, requested_limit
from feedsvc.web.service import Service, service

bp = Blueprint("search", __name__)
PAGE_RESULTS = 50  # results the HTML page lists


def init_app(app: Flask) -> None:
    """Serve search feeds and the search page."""
    app.register_blueprint(bp)


@bp.get("/search/feed.<fmt>")
def search_feed(fmt: str) -> Response:
    """The newest items matching ?q=, as a feed; `limit` as every feed takes it."""
    svc = service()
    check_format(fmt)
    query = _query(request.args.get("q", ""))
    limit = requested_limit(svc.config)
    key = (f"search?{query.normalized}", fmt, limit)
    entry = svc.search_cache.get(
        key, lambda: Entry.build(_render(svc, query, fmt, limit), fmt, svc.config)
    )
    return entry.respond(request.environ)


@bp.get("/search")
def search_page() -> str | tuple[str, int]:
    """A form, the results of ?q= and the feed URLs to copy into a reader."""
    svc = service()
    text = request.args.get("q", "").strip()
    context = {"q": text, "results": [], "feeds": {}, "error": None}
    status = 200
    if text:
        try:
            query = parse_query(text)
        except QueryError as exc:
            context["error"], status = str(exc), 400
        else:
            context["results"] = svc.store.search(query, PAGE_RESULTS)
            context["feeds"] = feed_urls(svc, query)
    page = render_template(
        "search.html",
        config=svc.config,
        formats=MEDIA_TYPES,
        stylesheet=static_url(svc.config.service.base_url, "style.css"),
        **context,
    )
    return page, status


def _query(text: str) -> Query:
    try:
        return parse_query(text)
    except QueryError as exc:
        raise BadRequest(f"q: {exc}") from None


def feed_urls(svc: Service, query: Query) -> dict[str, str]:
    """The search feed's URL in every format."""
    q = urlencode({"q": query.normalized})
    return {fmt: f"{svc.config.service.base_url}/search/feed.{fmt}?{q}" for fmt in FORMATS}


def _render(svc: Service, query: Query, fmt: str, limit: int) -> Rendered:
    """One indexed query, rendered (feedgen is loaded on the first search, not before); the
    gzip copy is left to the first request that takes it (web.cache.Entry)."""
    from feedsvc.publish.render import RENDERERS, package

    doc = search_doc(svc, query, svc.store.search(query, limit))
    return package(RENDERERS[fmt](doc), doc, compress=False)


def search_doc(svc: Service, query: Query, entries: list[StoredItem]) -> FeedDoc:
    """A search as a feed document: no hub (nothing announces a search), no archives."""
    config = svc.config
    base = config.service.base_url
    page = f"{base}/search?{urlencode({'q': query.normalized})}"
    return FeedDoc(
        id=page,
        title=f"{config.service.title}: {query.normalized}",
        description=f"The newest items matching {query.normalized}, by {config.service.title}.",
        home_url=page,
        urls=feed_urls(svc, query),
        updated=max((item.updated for item in entries), default=EPOCH),
        ttl_minutes=config.ingest.interval_minutes,
        author=config.service.title,
        types_url=f"{base}/types/",
        topics_url=f"{base}/topics/",
        entries=entries,
        stylesheet_url=static_url(base, FEED_STYLESHEET),
        topic_titles={t.slug: t.title for t in config.topics},
        topic_authors={t.slug: t.author for t in config.topics},
    )
