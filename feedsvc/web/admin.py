"""Operator pages: /status (HTML, no JavaScript) and /metrics, open to admin networks only.

Both reveal source URLs and errors, so a request must come from `[service] admin_networks`
and, when `admin_token` is set, carry it as a bearer token; anyone else gets a 403 that
says which. They only read the store.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from flask import Blueprint, Flask, Response, render_template, request
from werkzeug.exceptions import Forbidden

from feedsvc.config import Config, ServiceConfig
from feedsvc.formats import MEDIA_TYPES, static_url
from feedsvc.keys import FeedKey, urls
from feedsvc.model import QueueState, SourceStatus
from feedsvc.web.overview import when
from feedsvc.web.service import service

if TYPE_CHECKING:
    from feedsvc.store.engine import Store
    from feedsvc.store.runs import Run

admin = Blueprint("admin", __name__)


def init_app(app: Flask) -> None:
    """Serve /status and /metrics to operators."""
    app.register_blueprint(admin)


RUNS_SHOWN = 20
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class SourceRow:
    """One source as /status shows it."""

    url: str
    state: str
    status: SourceStatus | None
    items_stored: int
    undated: int
    next_run: datetime | None
    runs: list[Run]
    repair: tuple[str, datetime] | None = None  # (proposed or applied, since)
    queue: QueueState | None = None  # the shared ingest's queue (PostgreSQL only)


@dataclass(frozen=True)
class TopicRows:
    """A topic with its feed links and its sources."""

    slug: str
    title: str
    feeds: dict[str, str]
    sources: list[SourceRow]


@admin.before_request
def _only_admins() -> None:
    """403 with the reason unless the request comes from an admin network with the token."""
    settings: ServiceConfig = service().config.service
    refusal = admin_refusal(settings, request.remote_addr, request.headers.get("Authorization"))
    if refusal:
        raise Forbidden(refusal)


def admin_refusal(settings: ServiceConfig, address: str | None, authorization: str | None) -> str:
    """Why this client may not read operator pages; empty when it may."""
    try:
        client = ipaddress.ip_address(address or "")
    except ValueError:
        return f"{request.path} is for operators: client address {address!r} is unknown"
    if not any(client in network for network in settings.admin_networks):
        return f"{request.path} is for operators: {client} is not in [service] admin_networks"
    if settings.admin_token is not None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), settings.admin_token.encode()
        ):
            return f"{request.path} is for operators: send Authorization: Bearer <admin_token>"
    return ""


@admin.get("/metrics")
def metrics() -> Response:
    """Prometheus text exposition, counted by the store when scraped."""
    from feedsvc.web.metrics import exposition  # prometheus_client, loaded for operators only

    svc = service()
    return Response(exposition(svc.full_store, svc.config), content_type=METRICS_TYPE)


@admin.get("/status")
def status() -> str:
    """Every topic and source with its state, counts and last runs."""
    svc = service()
    now = datetime.now(UTC)
    return render_template(
        "status.html",
        config=svc.config,
        formats=MEDIA_TYPES,
        stylesheet=static_url(svc.config.service.base_url, "style.css"),
        topics=status_rows(svc.full_store, svc.config, now),
        now=now,
        when=when,
    )


def status_rows(store: Store, config: Config, now: datetime) -> list[TopicRows]:
    """Every configured topic and source with its state, counts and recent runs."""
    statuses = {(s.topic, s.url): s for s in store.sources()}
    repairs = store.repair_states()
    queues = store.queue_states()
    counts = store.items_per_source()
    interval = timedelta(minutes=config.ingest.interval_minutes)
    rows = []
    for topic in config.topics:
        sources = []
        for source in topic.sources:
            key = (topic.slug, source.url)
            status = statuses.get(key)
            attempted = status.last_attempt_at if status else None
            stored, undated = counts.get(key, (0, 0))
            queue = queues.get(key)
            sources.append(
                SourceRow(
                    url=source.url,
                    state=source_state(status),
                    status=status,
                    items_stored=stored,
                    undated=undated,
                    next_run=queue.due_at
                    if queue and queue.due_at
                    else max(attempted + interval, now)
                    if attempted
                    else None,
                    runs=store.recent_runs(topic.slug, source.url, RUNS_SHOWN),
                    repair=repairs.get(key),
                    queue=queue,
                )
            )
        feeds = urls(FeedKey(topic=topic.slug), config.service.base_url)
        rows.append(TopicRows(topic.slug, topic.title, feeds, sources))
    return rows


def source_state(status: SourceStatus | None) -> str:
    """pending (never fetched), failing (last attempt failed) or ok."""
    if status is None or status.last_attempt_at is None:
        return "pending"
    return "failing" if status.last_error else "ok"
