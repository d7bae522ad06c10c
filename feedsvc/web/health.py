"""Health: every configured source's last attempt, success and error, and topics that are down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, Flask, Response, jsonify

from feedsvc.config import Config
from feedsvc.model import Leader, QueueState, SourceStatus
from feedsvc.web.service import Service, service

bp = Blueprint("health", __name__)


def init_app(app: Flask) -> None:
    """Serve /healthz."""
    app.register_blueprint(bp)


@bp.get("/healthz")
def healthz() -> Response:
    svc = service()
    statuses = _configured_statuses(svc)
    repairs = svc.store.repair_states()
    queues = svc.store.queue_states()
    down = topics_down(svc.config, statuses, datetime.now(UTC))
    response = jsonify(
        status="down"
        if down
        else "ok"
        if all(s.last_error is None for s in statuses)
        else "degraded",
        topics_down=down,
        items=svc.store.count_items(),
        sources=[
            _source_json(s, repairs.get((s.topic, s.url)), queues.get((s.topic, s.url)))
            for s in statuses
        ],
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


def _leader_json(leader: Leader | None) -> dict | None:
    """The scheduler that holds the lead (`host:pid`) and since when."""
    return {"leader": leader.holder, "since": leader.since.isoformat()} if leader else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _queue_json(queue: QueueState | None) -> dict | None:
    """The source's place in the shared ingest's queue (PostgreSQL); None on SQLite."""
    if queue is None:
        return None
    return {
        "due_at": _iso(queue.due_at),
        "queued_at": _iso(queue.queued_at),
        "leased_by": queue.leased_by,
        "lease_until": _iso(queue.lease_until),
    }


def _source_json(
    status: SourceStatus, repair: tuple[str, datetime] | None, queue: QueueState | None
) -> dict:
    return {
        "topic": status.topic,
        "url": status.url,
        "state": "pending"
        if status.last_attempt_at is None
        else "failing"
        if status.last_error
        else "ok",
        "last_attempt": _iso(status.last_attempt_at),
        "last_success": _iso(status.last_success_at),
        "last_error": status.last_error,
        "failing_since": _iso(status.failing_since),
        "items_on_page": status.items_on_page,
        "items_found": status.items_found,
        "last_undated_text": status.last_undated_text,
        "last_undated_at": _iso(status.last_undated_at),
        # feedsvc repair / [ingest] auto_repair: a block proposed, or applied in place of the
        # config's selectors, and since when
        "repair": {"state": repair[0], "since": _iso(repair[1])} if repair else None,
        # the shared ingest on PostgreSQL: next due, queued since, which host holds it until when
        "queue": _queue_json(queue),
    }
