"""The web service: look up rendered feed bytes and answer with validators; index and health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request
from werkzeug.exceptions import BadRequest, HTTPException, NotFound

from feedsvc.config import Config, load, resolve_path
from feedsvc.feeds import ArchiveKey, FeedKey
from feedsvc.publish import archive_page, publish_feed, render_at_limit, weekly_digest
from feedsvc.render import FORMATS
from feedsvc.store import Rendered, SourceStatus, Store

bp = Blueprint("feedsvc", __name__)
FINAL_MAX_AGE = 365 * 24 * 3600  # a complete archive page never changes


@dataclass(frozen=True)
class Service:
    """What every view needs, passed explicitly rather than through flask.g."""

    config: Config
    store: Store


def create_app(config: Config | None = None) -> Flask:
    """The application factory: `config` or the file named by --config / $FEEDSVC_CONFIG."""
    config = config or load(resolve_path())
    store = Store(config.service.database)
    store.create_schema()
    store.ensure_sources((t.slug, s.url) for t in config.topics for s in t.sources)
    app = Flask(__name__)
    app.extensions["feedsvc"] = Service(config, store)
    app.register_blueprint(bp)
    app.register_error_handler(HTTPException, _error)
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
    return _respond(out, FORMATS[fmt].media_type, svc.config)


@bp.get("/")
def index() -> str:
    svc = service()
    seen_types = sorted(svc.store.type_labels().items(), key=lambda kv: kv[1].lower())
    return render_template("index.html", config=svc.config, types=seen_types, formats=FORMATS)


@bp.get("/healthz")
def healthz() -> Response:
    svc = service()
    statuses = svc.store.sources()
    configured = {(t.slug, s.url) for t in svc.config.topics for s in t.sources}
    return jsonify(
        status="ok" if all(s.last_error is None for s in statuses) else "degraded",
        items=svc.store.count_items(),
        sources=[_source_json(s) for s in statuses if (s.topic, s.url) in configured],
    )


def _feed(key: FeedKey, fmt: str) -> Response:
    svc = service()
    _check_format(fmt)
    limit = _limit(svc.config)
    out = svc.store.rendered(key, fmt, limit)
    if out is None:
        _check_exists(svc, key)
        if limit == svc.config.feeds.default_limit:
            publish_feed(svc.store, svc.config, key)
            out = svc.store.rendered(key, fmt, limit)
        else:
            out = render_at_limit(svc.store, svc.config, key, fmt, limit)
    return _respond(out, FORMATS[fmt].media_type, svc.config)


def _archive(key: ArchiveKey, fmt: str) -> Response:
    """Serve an archive page; an unknown feed or page is a 404 that says which."""
    svc = service()
    _check_format(fmt)
    out = archive_page(svc.store, svc.config, key, fmt)
    if out is None:
        _check_exists(svc, key.feed)
        raise NotFound(f"no archive page {key.page} of {key.feed.path}")
    return _respond(out, FORMATS[fmt].media_type, svc.config)


def _check_format(fmt: str) -> None:
    """An unknown extension is a 404 naming the formats there are."""
    if fmt not in FORMATS:
        raise NotFound(f"unknown feed format {fmt!r}; expected one of: {', '.join(FORMATS)}")


def _limit(config: Config) -> int:
    raw = request.args.get("limit")
    if raw is None:
        return config.feeds.default_limit
    if not raw.isdigit() or not 1 <= int(raw) <= config.feeds.max_limit:
        raise BadRequest(f"limit must be a whole number from 1 to {config.feeds.max_limit}")
    return int(raw)


def _check_exists(svc: Service, key: FeedKey) -> None:
    if key.topic and svc.config.topic(key.topic) is None:
        raise NotFound(f"unknown topic {key.topic!r}")
    if key.type and key.type not in svc.config.types and key.type not in svc.store.type_labels():
        raise NotFound(f"unknown type {key.type!r}")


def _respond(out: Rendered, media_type: str, config: Config) -> Response:
    gzipped = "gzip" in request.headers.get("Accept-Encoding", "")
    response = Response(out.gzip_body if gzipped else out.body, content_type=media_type)
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    response.set_etag(out.etag.strip('"') + ("-gz" if gzipped else ""))
    response.last_modified = out.last_modified
    response.headers["Vary"] = "Accept-Encoding"
    response.cache_control.public = True
    response.cache_control.max_age = (
        FINAL_MAX_AGE if out.final else min(config.ingest.interval_minutes, 60) * 60
    )
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
