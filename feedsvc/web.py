"""The web service: look up published bytes and answer with validators; index, OPML, health.

Read-only: it never writes to the store or the publish directory. Documents are
rendered by the publisher (`cycle`); what it does not keep (a `?limit=`) is rendered in
memory per request by `live`, imported on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request
from werkzeug.exceptions import (
    BadRequest,
    HTTPException,
    InternalServerError,
    NotFound,
    RequestURITooLarge,
)

from feedsvc.cache import Entry, FeedCache, PrebuiltResponse
from feedsvc.config import Config, TopicConfig, load, resolve_path
from feedsvc.feeds import (
    ArchiveKey,
    DigestKey,
    DocumentKey,
    FeedKey,
    feed_description,
    feed_title,
    home_url,
    type_labels,
    urls,
)
from feedsvc.formats import FORMATS, MEDIA_TYPES, STYLED_FORMATS, static_url
from feedsvc.headers import BROWSER_VARY, SECURITY_HEADERS
from feedsvc.invalidation import publish_stamp
from feedsvc.model import Rendered, SourceStatus
from feedsvc.opml import MEDIA_TYPE as OPML_MEDIA_TYPE
from feedsvc.opml import PREFERRED_FORMAT as OPML_FORMAT
from feedsvc.opml import Folder, Outline, opml_document
from feedsvc.store import Store, open_store
from feedsvc.store.cluster import Leader

bp = Blueprint("feedsvc", __name__)

MAX_URL_CHARS = 2048


@dataclass(frozen=True)
class Service:
    """What every view needs, passed explicitly rather than through flask.g."""

    config: Config
    store: Store
    cache: FeedCache


@dataclass(frozen=True)
class ListedFeed:
    """One feed as the discovery pages and OPML show it."""

    title: str
    description: str
    home_url: str
    urls: dict[str, str]


@dataclass(frozen=True)
class FeedGroup:
    """Feeds listed together: one topic's (everything, then per type), or the per-type feeds."""

    title: str
    page_url: str | None
    feeds: tuple[ListedFeed, ...]


def create_app(config: Config | None = None) -> Flask:
    """The application factory: `config` or the file named by --config / $FEEDSVC_CONFIG."""
    config = config or load(resolve_path())
    store = open_store(config.service, readonly=True)  # `feedsvc migrate` made it
    app = Flask(__name__)
    cache = FeedCache(publish_stamp(config, store))
    app.extensions["feedsvc"] = Service(config, store, cache)
    app.register_blueprint(bp)
    app.register_error_handler(HTTPException, _error)
    app.register_error_handler(Exception, _unexpected)
    app.before_request(_refuse_long_urls)
    app.after_request(_security_headers)
    return app


def service() -> Service:
    return current_app.extensions["feedsvc"]


@bp.get("/topics/<topic>/feed.<fmt>")
def topic_feed(topic: str, fmt: str) -> Response:
    return _feed(FeedKey(topic=topic), fmt)


@bp.get("/types/<type_slug>/feed.<fmt>")
def type_feed(type_slug: str, fmt: str) -> Response:
    return _feed(FeedKey(type=type_slug), fmt)


@bp.get("/topics/<topic>/types/<type_slug>/feed.<fmt>")
def topic_type_feed(topic: str, type_slug: str, fmt: str) -> Response:
    return _feed(FeedKey(topic=topic, type=type_slug), fmt)


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
    _check_format(fmt)
    topic_config = _known_topic(svc, topic)
    now = datetime.now(UTC)
    out = svc.store.rendered(DigestKey(topic), fmt, svc.config.feeds.default_limit)
    if out is None or (out.stale_at is not None and out.stale_at <= now):
        from feedsvc import live  # the week closed before the scheduler rendered it again

        return _respond_feed(live.digest(svc.store, svc.config, topic_config, fmt, now), fmt)
    return _serve(DigestKey(topic), fmt, svc.config.feeds.default_limit, lambda: out)


@bp.get("/")
def index() -> str:
    svc = service()
    return _page("index.html", svc, groups=_all_groups(svc))


@bp.get("/topics/<topic>/")
def topic_page(topic: str) -> str:
    svc = service()
    group = _topic_group(svc, _known_topic(svc, topic), _type_labels(svc))
    return _page("topic.html", svc, group=group)


@bp.get("/feeds.opml")
def opml_all() -> Response:
    svc = service()
    return _opml(svc, f"{svc.config.service.title}: every feed", _all_groups(svc))


@bp.get("/topics/<topic>/feeds.opml")
def opml_topic(topic: str) -> Response:
    svc = service()
    group = _topic_group(svc, _known_topic(svc, topic), _type_labels(svc))
    return _opml(svc, f"{svc.config.service.title}: {group.title}", [group])


@bp.get("/healthz")
def healthz() -> Response:
    svc = service()
    statuses = _configured_statuses(svc)
    down = topics_down(svc.config, statuses, datetime.now(UTC))
    response = jsonify(
        status="down"
        if down
        else "ok"
        if all(s.last_error is None for s in statuses)
        else "degraded",
        topics_down=down,
        items=svc.store.count_items(),
        sources=[_source_json(s) for s in statuses],
        scheduler=_leader_json(svc.store.leader()),
    )
    response.status_code = 503 if down else 200
    return response


def topics_down(config: Config, statuses: list[SourceStatus], now: datetime) -> list[str]:
    """Topics whose every source has failed for longer than failing_after_minutes."""
    since = now - timedelta(minutes=config.ingest.failing_after_minutes)
    failing = {(s.topic, s.url) for s in statuses if s.failing_since and s.failing_since < since}
    return [
        topic.slug
        for topic in config.topics
        if all((topic.slug, source.url) in failing for source in topic.sources)
    ]


def _configured_statuses(svc: Service) -> list[SourceStatus]:
    """The status of every configured source; one never ingested is pending."""
    stored = {(s.topic, s.url): s for s in svc.store.sources()}
    return [
        stored.get((topic.slug, source.url))
        or SourceStatus(topic.slug, source.url, None, None, None, None, 0, 0, None, None, None)
        for topic in svc.config.topics
        for source in topic.sources
    ]


def _feed(key: FeedKey, fmt: str) -> Response:
    svc = service()
    _check_format(fmt)
    limit = _limit(svc.config)
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
        _check_exists(svc, key)
        from feedsvc import live

        out = live.feed(svc.store, svc.config, key, fmt, limit)
    return out


def _archive(key: ArchiveKey, fmt: str) -> Response:
    """Serve an archive page; an unknown feed or page is a 404 that says which."""
    svc = service()
    _check_format(fmt)
    return _serve(
        key, fmt, svc.config.feeds.archive_page_size, lambda: _archive_bytes(svc, key, fmt)
    )


def _archive_bytes(svc: Service, key: ArchiveKey, fmt: str) -> Rendered:
    """A published archive page, or one the publisher has not reached yet, rendered now."""
    out = svc.store.rendered(key, fmt, svc.config.feeds.archive_page_size)
    if out is None:
        from feedsvc import live

        out = live.archive_page(svc.store, svc.config, key, fmt)
    if out is None:
        _check_exists(svc, key.feed)
        raise NotFound(f"no archive page {key.page} of {key.feed.path}")
    return out


def _check_format(fmt: str) -> None:
    """An unknown extension is a 404 naming the formats there are."""
    if fmt not in FORMATS:
        raise NotFound(f"unknown feed format {fmt!r}; expected one of: {', '.join(FORMATS)}")


def _limit(config: Config) -> int:
    raw = request.args.get("limit") if request.query_string else None
    if raw is None:
        return config.feeds.default_limit
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= config.feeds.max_limit:
        raise BadRequest(f"limit must be a whole number from 1 to {config.feeds.max_limit}")
    return int(raw)


def _check_exists(svc: Service, key: FeedKey) -> None:
    if key.topic and svc.config.topic(key.topic) is None:
        raise NotFound(f"unknown topic {key.topic!r}")
    if key.type and key.type not in svc.config.types and key.type not in svc.store.type_labels():
        raise NotFound(f"unknown type {key.type!r}")


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
    from feedsvc.browser import browser_page  # lxml's XSLT, loaded when a browser first asks

    response = Response(browser_page(out.body), content_type="text/html; charset=utf-8")
    response.last_modified = out.last_modified
    response.add_etag()
    response.vary.update(BROWSER_VARY)
    return response.make_conditional(request)


def _known_topic(svc: Service, slug: str) -> TopicConfig:
    """The configured topic, or a one-line 404."""
    topic = svc.config.topic(slug)
    if topic is None:
        raise NotFound(f"unknown topic {slug!r}")
    return topic


def _all_groups(svc: Service) -> list[FeedGroup]:
    """Every feed: each topic's, then the per-type feeds of the types seen so far."""
    labels = _type_labels(svc)
    groups = [_topic_group(svc, topic, labels) for topic in svc.config.topics]
    types = [FeedKey(type=slug) for slug in _by_label(svc.store.type_labels(), labels)]
    if types:
        groups.append(FeedGroup("Every topic, by type", None, _listed(svc, types, labels)))
    return groups


def _topic_group(svc: Service, topic: TopicConfig, labels: dict[str, str]) -> FeedGroup:
    """A topic's feeds: everything, then one per type it has items of (one indexed query)."""
    slugs = _by_label(svc.store.topic_types(topic.slug), labels)
    keys = [FeedKey(topic=topic.slug)] + [FeedKey(topic=topic.slug, type=slug) for slug in slugs]
    page_url = f"{svc.config.service.base_url}/topics/{topic.slug}/"
    return FeedGroup(topic.title, page_url, _listed(svc, keys, labels))


def _by_label(slugs: Iterable[str], labels: dict[str, str]) -> list[str]:
    """Type slugs in the order a reader looks for them: by display label."""
    return sorted(slugs, key=lambda slug: labels.get(slug, slug).lower())


def _listed(svc: Service, keys: list[FeedKey], labels: dict[str, str]) -> tuple[ListedFeed, ...]:
    """Titles, descriptions and URLs of these feeds, in this order."""
    config = svc.config
    return tuple(
        ListedFeed(
            title=feed_title(key, config, labels),
            description=feed_description(key, config, labels),
            home_url=home_url(key, config),
            urls=urls(key, config.service.base_url),
        )
        for key in keys
    )


def _type_labels(svc: Service) -> dict[str, str]:
    """Display labels of every type known to the config or the store."""
    return type_labels(svc.config, svc.store.type_labels())


def _page(template: str, svc: Service, **context: object) -> str:
    """An HTML discovery page with what the base layout needs."""
    return render_template(
        template,
        config=svc.config,
        formats=MEDIA_TYPES,
        stylesheet=static_url(svc.config.service.base_url, "style.css"),
        **context,
    )


def _opml(svc: Service, title: str, groups: list[FeedGroup]) -> Response:
    """An OPML 2.0 list of these feeds, one outline each, folders by group."""
    folders = [
        Folder(
            group.title,
            [Outline(f.title, f.urls[OPML_FORMAT], f.home_url, f.description) for f in group.feeds],
        )
        for group in groups
    ]
    body = opml_document(title, svc.config.service.title, folders)
    response = Response(body, content_type=OPML_MEDIA_TYPE)
    response.add_etag()
    return response.make_conditional(request)


def _error(exc: HTTPException) -> Response:
    """Every error is one line, in JSON for JSON clients and plain text for everyone else."""
    reason = exc.description or exc.name
    wants_json = (
        request.path.endswith(".json") or request.accept_mimetypes.best == "application/json"
    )
    if wants_json:
        response = jsonify(error=reason, status=exc.code)
    else:
        response = Response(
            f"{exc.code} {exc.name}: {reason}\n", content_type="text/plain; charset=utf-8"
        )
    response.status_code = exc.code or 500
    for name, value in exc.get_headers():  # e.g. Allow on a 405
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _unexpected(exc: Exception) -> Response:
    """A bug or a broken store: the traceback goes to the log, the client gets one line."""
    current_app.logger.error("%s %s failed", request.method, request.path, exc_info=exc)
    return _error(InternalServerError("internal error; the details are in the service log"))


def _refuse_long_urls() -> None:
    """An absurdly long URL or query string is refused before any work is done for it."""
    environ = request.environ  # raw lengths: cheaper than building request.full_path
    if len(environ.get("PATH_INFO", "")) + len(environ.get("QUERY_STRING", "")) > MAX_URL_CHARS:
        raise RequestURITooLarge(f"URL longer than {MAX_URL_CHARS} characters")


def _security_headers(response: Response) -> Response:
    """Pages may not sniff types, run foreign scripts or leak full URLs to other sites.

    Feeds already carry them (cache.feed_headers, as the static tier sends them); a 304
    has no body to protect and keeps exactly the headers the static tier's 304 has.
    """
    if isinstance(response, PrebuiltResponse) or response.status_code == 304:
        return response
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _leader_json(leader: Leader | None) -> dict | None:
    """The scheduler that holds the lead (`host:pid`) and since when."""
    return {"leader": leader.holder, "since": leader.since.isoformat()} if leader else None


def _source_json(status: SourceStatus) -> dict:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "topic": status.topic,
        "url": status.url,
        "state": "pending"
        if status.last_attempt_at is None
        else "failing"
        if status.last_error
        else "ok",
        "last_attempt": iso(status.last_attempt_at),
        "last_success": iso(status.last_success_at),
        "last_error": status.last_error,
        "failing_since": iso(status.failing_since),
        "items_on_page": status.items_on_page,
        "items_found": status.items_found,
    }
