"""The web service: published bytes with validators, discovery pages, OPML and health.

Read-only: it never writes to the store or the publish directory. `create_app` is the
application factory; each part (`feed_routes`, `pages`, `health`) registers itself with its
own `init_app`; `admin` (/status, /metrics) answers operators only.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError, RequestURITooLarge

from feedsvc.config import Config, load, resolve_path
from feedsvc.headers import SECURITY_HEADERS
from feedsvc.store.reads import Reader
from feedsvc.store.watch import publish_stamp
from feedsvc.web import admin, feed_routes, health, pages, search
from feedsvc.web.cache import FeedCache, PrebuiltResponse
from feedsvc.web.service import Service

MAX_URL_CHARS = 2048
SEARCH_CACHE_BYTES = 2 * 1024 * 1024  # rendered searches a worker keeps until the next publish


def create_app(config: Config | None = None) -> Flask:
    """The application factory: `config` or the file named by --config / $FEEDSVC_CONFIG."""
    config = config or load(resolve_path())
    reader = Reader(config.service.database)  # read-only; `feedsvc migrate` made the store
    app = Flask("feedsvc")
    cache = FeedCache(publish_stamp(config))
    searches = FeedCache(cache.stamp, SEARCH_CACHE_BYTES)  # a flood of queries evicts no feed
    app.extensions["feedsvc"] = Service(config, reader, cache, searches)
    for part in (feed_routes, pages, health, admin, search):
        part.init_app(app)
    app.register_error_handler(HTTPException, _error)
    app.register_error_handler(Exception, _unexpected)
    app.before_request(_refuse_long_urls)
    app.after_request(_security_headers)
    return app


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

    Feeds already carry them (headers.feed_headers, as the static tier sends them); a 304
    has no body to protect and keeps exactly the headers the static tier's 304 has.
    """
    if isinstance(response, PrebuiltResponse) or response.status_code == 304:
        return response
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
