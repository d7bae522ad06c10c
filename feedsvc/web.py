"""The web service: look up rendered feed bytes and answer with validators; index and health."""

from __future__ import annotations

from collections.abc import Iterable
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

from feedsvc.cache import BROWSER_VARY, SECURITY_HEADERS, Entry, FeedCache, PrebuiltResponse
from feedsvc.config import Config, TopicConfig, load, resolve_path
from feedsvc.export import generation_marker
from feedsvc.feeds import (
    ArchiveKey,
    DigestKey,
    FeedKey,
    digest_description,
    digest_title,
    feed_description,
    feed_title,
)
from feedsvc.opml import MEDIA_TYPE as OPML_MEDIA_TYPE
from feedsvc.opml import PREFERRED_FORMAT as OPML_FORMAT
from feedsvc.opml import SETS as OPML_SETS
from feedsvc.opml import Folder, Outline, TopicOutlines, opml_document, opml_folders
from feedsvc.publish import (
    archive_page,
    feed_home_url,
    feed_url,
    publish_feed,
    render_at_limit,
    weekly_digest,
)
from feedsvc.render import FORMATS, STYLED_FORMATS, browser_page, static_url
from feedsvc.store import Rendered, SourceStatus, Store

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
    store = Store(config.service.database)
    store.create_schema()
    store.ensure_sources((t.slug, s.url) for t in config.topics for s in t.sources)
    app = Flask(__name__)
    cache = FeedCache(generation_marker(config))
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
    topic_config = svc.config.topic(topic)
    if topic_config is None:
        raise NotFound(f"unknown topic {topic!r}")
    out = weekly_digest(svc.store, svc.config, topic_config, fmt, datetime.now(UTC))
    return _respond_feed(out, fmt, svc.config)


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
    """Every feed, or with ?set=topics or ?set=types a set whose feeds never overlap."""
    svc = service()
    chosen = request.args.get("set", "all") if request.query_string else "all"
    if chosen not in OPML_SETS:
        raise BadRequest(f"set must be one of: {', '.join(OPML_SETS)}")
    groups = _all_groups(svc)
    topics = [_topic_outlines(svc, t, g) for t, g in zip(svc.config.topics, groups, strict=False)]
    by_type = [_folder(g) for g in groups[len(topics) :]]
    folders = opml_folders(topics, by_type[0] if by_type else None, chosen)
    return _opml(svc, f"{svc.config.service.title}: {OPML_SETS[chosen]}", folders)


@bp.get("/topics/<topic>/feeds.opml")
def opml_topic(topic: str) -> Response:
    svc = service()
    topic_config = _known_topic(svc, topic)
    group = _topic_group(svc, topic_config, _type_labels(svc))
    folders = opml_folders([_topic_outlines(svc, topic_config, group)], None, "all")
    return _opml(svc, f"{svc.config.service.title}: {group.title}", folders)


@bp.get("/healthz")
def healthz() -> Response:
    svc = service()
    statuses = svc.store.sources()
    configured = {(t.slug, s.url) for t in svc.config.topics for s in t.sources}
    statuses = [s for s in statuses if (s.topic, s.url) in configured]
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


def _feed(key: FeedKey, fmt: str) -> Response:
    svc = service()
    _check_format(fmt)
    limit = _limit(svc.config)
    if _is_browser_navigation(fmt):
        return _browser_view(_rendered(svc, key, fmt, limit))
    entry = svc.cache.get(
        (key.path, fmt, limit),
        lambda: Entry.build(_rendered(svc, key, fmt, limit), fmt, svc.config),
    )
    return entry.respond(request.environ)


def _rendered(svc: Service, key: FeedKey, fmt: str, limit: int) -> Rendered:
    """The stored bytes of a feed; rendered now if this feed or limit never was."""
    out = svc.store.rendered(key, fmt, limit)
    if out is None:
        _check_exists(svc, key)
        if limit == svc.config.feeds.default_limit:
            publish_feed(svc.store, svc.config, key)
            out = svc.store.rendered(key, fmt, limit)
        else:
            out = render_at_limit(svc.store, svc.config, key, fmt, limit)
    return out


def _archive(key: ArchiveKey, fmt: str) -> Response:
    """Serve an archive page; an unknown feed or page is a 404 that says which."""
    svc = service()
    _check_format(fmt)
    out = archive_page(svc.store, svc.config, key, fmt)
    if out is None:
        _check_exists(svc, key.feed)
        raise NotFound(f"no archive page {key.page} of {key.feed.path}")
    return _respond_feed(out, fmt, svc.config)


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


def _respond_feed(out: Rendered, fmt: str, config: Config) -> Response:
    """The feed's bytes, or for RSS and Atom opened in a browser tab, its readable page."""
    if _is_browser_navigation(fmt):
        return _browser_view(out)
    return Entry.build(out, fmt, config).respond(request.environ)


def _is_browser_navigation(fmt: str) -> bool:
    """A person opened an RSS or Atom feed in a browser tab: a navigation that prefers HTML.

    Feed readers never send `Sec-Fetch-Dest: document`, so they always get the raw feed;
    the header is read straight from the environ, as this check runs on every feed request.
    """
    if request.environ.get("HTTP_SEC_FETCH_DEST") != "document" or fmt not in STYLED_FORMATS:
        return False
    feed_type = FORMATS[fmt].media_type.split(";")[0]
    return request.accept_mimetypes.best_match([feed_type, "text/html"]) == "text/html"


def _browser_view(out: Rendered) -> Response:
    """The feed through feed.xsl on the server: browsers show feed media types as plain text."""
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
            home_url=feed_home_url(config, key),
            urls={fmt: feed_url(config, key, fmt) for fmt in FORMATS},
        )
        for key in keys
    )


def _type_labels(svc: Service) -> dict[str, str]:
    """Display labels of every type: the page's own label wins over the config's."""
    return {**svc.config.types, **svc.store.type_labels()}


def _page(template: str, svc: Service, **context: object) -> str:
    """An HTML discovery page with what the base layout needs."""
    return render_template(
        template,
        config=svc.config,
        formats=FORMATS,
        stylesheet=static_url(svc.config.service.base_url, "style.css"),
        **context,
    )


def _folder(group: FeedGroup) -> Folder:
    """A group of listed feeds as an OPML folder, one outline per feed."""
    return Folder(
        group.title,
        [Outline(f.title, f.urls[OPML_FORMAT], f.home_url, f.description) for f in group.feeds],
    )


def _topic_outlines(svc: Service, topic: TopicConfig, group: FeedGroup) -> TopicOutlines:
    """A topic's group (its feed first, then per type) with its weekly digest beside it."""
    feed, *by_type = _folder(group).outlines
    digest_outline = Outline(
        digest_title(topic),
        f"{svc.config.service.base_url}/{DigestKey(topic.slug).path}.{OPML_FORMAT}",
        feed.html_url,
        digest_description(topic, svc.config.service.title),
    )
    return TopicOutlines(topic.title, feed, digest_outline, by_type)


def _opml(svc: Service, title: str, folders: list[Folder]) -> Response:
    """An OPML 2.0 document of these folders."""
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
