"""The app floor: Flask returning constant bytes, routed like a feed, under the same gunicorn.

BENCH_BODY names the file whose bytes /topics/<topic>/feed.<fmt> returns; the same URL
answers a constant 304 (the headers feedsvc sends with one) when asked with any
If-None-Match, so each feedsvc figure has the cheapest Flask answer of its kind beside it.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response, request

MEDIA_TYPE = "application/atom+xml; charset=utf-8"
NOT_MODIFIED = [
    ("ETag", '"constant"'),
    ("Vary", "Accept-Encoding"),
    ("Cache-Control", "public, max-age=3600"),
]


def create_app() -> Flask:
    """A Flask app with one route and nothing else, as cheap as a Flask view gets."""
    body = Path(os.environ["BENCH_BODY"]).read_bytes()
    app = Flask(__name__)

    @app.get("/topics/<topic>/feed.<fmt>")
    def constant(topic: str, fmt: str) -> Response:
        if "HTTP_IF_NONE_MATCH" in request.environ:
            return Response(status=304, headers=NOT_MODIFIED)
        return Response(body, content_type=MEDIA_TYPE)

    return app
