"""The web service: look up rendered feed bytes and answer with validators; index and health."""

from __future__ import annotations

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

from feedsvc.config import Config, load, resolve_path
from feedsvc.feeds import FeedKey
from feedsvc.publish import publish_feed, render_at_limit
from feedsvc.render import FORMATS
from feedsvc.store import Rendered, SourceStatus, Store

bp = Blueprint("feedsvc", __name__)

MAX_URL_CHARS = 2048
# script-src governs XSLT too: 'self' lets a browser apply /static/feed.xsl to a feed.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' https: http: data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


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
    if fmt not in FORMATS:
        raise NotFound(f"unknown feed format {fmt!r}; expected one of: {', '.join(FORMATS)}")
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


def _limit(config: Config) -> int:
    raw = request.args.get("limit")
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


def _respond(out: Rendered, media_type: str, config: Config) -> Response:
    gzipped = "gzip" in request.headers.get("Accept-Encoding", "")
    response = Response(out.gzip_body if gzipped else out.body, content_type=media_type)
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    response.set_etag(out.etag.strip('"') + ("-gz" if gzipped else ""))
    response.last_modified = out.last_modified
    response.headers["Vary"] = "Accept-Encoding"
    response.cache_control.public = True
    response.cache_control.max_age = min(config.ingest.interval_minutes, 60) * 60
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
    if len(request.full_path) > MAX_URL_CHARS:
        raise RequestURITooLarge(f"URL longer than {MAX_URL_CHARS} characters")


def _security_headers(response: Response) -> Response:
    """Pages may not sniff types, run foreign scripts or leak full URLs to other sites."""
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
