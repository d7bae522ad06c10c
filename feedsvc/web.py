"""The web service: look up rendered feed bytes and answer with validators; index and health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request
from werkzeug.exceptions import BadRequest, HTTPException, NotFound

from feedsvc.cache import FeedCache, max_age
from feedsvc.config import Config, load, resolve_path
from feedsvc.export import generation_marker
from feedsvc.feeds import FeedKey
from feedsvc.publish import publish_feed, render_at_limit
from feedsvc.render import FORMATS
from feedsvc.store import Rendered, SourceStatus, Store

bp = Blueprint("feedsvc", __name__)


@dataclass(frozen=True)
class Service:
    """What every view needs, passed explicitly rather than through flask.g."""

    config: Config
    store: Store
    cache: FeedCache


def create_app(config: Config | None = None) -> Flask:
    """The application factory: `config` or the file named by --config / $FEEDSVC_CONFIG."""
    config = config or load(resolve_path())
    store = Store(config.service.database)
    store.create_schema()
    store.ensure_sources((t.slug, s.url) for t in config.topics for s in t.sources)
    app = Flask(__name__)
    cache = FeedCache(generation_marker(config), max_age(config))
    app.extensions["feedsvc"] = Service(config, store, cache)
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
    if fmt not in FORMATS:
        raise NotFound(f"unknown feed format {fmt!r}; expected one of: {', '.join(FORMATS)}")
    limit = _limit(svc.config)
    entry = svc.cache.get(
        (key.path, fmt, limit), lambda: _rendered(svc, key, fmt, limit), FORMATS[fmt].media_type
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


def _limit(config: Config) -> int:
    raw = request.args.get("limit") if request.query_string else None
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
