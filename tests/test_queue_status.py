"""The shared ingest's queue, as operators see it: on a real PostgreSQL a source that waits,
one a host holds and one that is not queued show up in `feedsvc status`, /healthz, /status and
/metrics as the `source_schedule` table has them; on SQLite, which keeps no queue, nothing of
it shows and nothing fails."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from lxml import html
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from feedsvc.cli.main import main
from feedsvc.config import Config, load
from feedsvc.jobs.cycle import prepare
from feedsvc.store import Store
from feedsvc.web import create_app
from tests.support.config import write_config
from tests.support.pgcluster import PostgresCluster

PAGES = {f"t{n}": f"http://127.0.0.1:9/t{n}.html" for n in range(3)}  # never fetched
HOST = "host-a:41"


@dataclass(frozen=True)
class Queue:
    """A PostgreSQL store whose three sources are idle, leased to HOST and waiting."""

    config: Config
    store: Store
    idle: str
    leased: str
    waiting: str


@pytest.fixture
def queue(tmp_path: Path, postgres_cluster: PostgresCluster) -> Iterator[Queue]:
    config = load(write_config(tmp_path, PAGES, database=postgres_cluster.create_database()))
    prepare(config)
    store = Store(config.service.database)
    ids = store.source_ids((slug, url) for slug, url in PAGES.items())
    topics = {source: slug for (slug, _), source in ids.items()}
    store.schedule_sources(ids.values())
    assert store.enqueue_due(3600) == 3
    done, held = store.claim_sources(HOST, 2, lease_seconds=300)
    store.finish_source(done, HOST)
    waiting = next(slug for slug in PAGES if slug not in (topics[done], topics[held]))
    yield Queue(config, store, topics[done], topics[held], waiting)
    store.close()


def stored_rows(store: Store) -> dict[str, dict[str, datetime | str | None]]:
    """The `source_schedule` table itself, per topic, as aware UTC times."""

    def utc(value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value else None

    with store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT s.topic, q.due_at, q.queued_at, q.leased_by, q.leased_until "
                "FROM source_schedule q JOIN sources s ON s.id = q.source_id"
            )
        )
        return {
            topic: {
                "due_at": utc(due),
                "queued_at": utc(queued),
                "leased_by": holder,
                "lease_until": utc(until),
            }
            for topic, due, queued, holder, until in rows
        }


def status_lines(config: Config, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """`feedsvc status`, one line per topic."""
    capsys.readouterr()
    assert main(["--config", str(config.path), "status"]) == 0
    out = capsys.readouterr().out
    return {line.split(" ", 1)[0]: line for line in out.splitlines() if line.startswith("t")}


def queue_cells(client: FlaskClient, slugs: list[str]) -> dict[str, str | None]:
    """The "queue" row of each source's table on /status (None: no such row)."""
    document = html.fromstring(client.get("/status").text)
    found = {}
    for slug, table in zip(
        slugs, document.xpath("//table[contains(@class, 'source-status')]"), strict=True
    ):
        cell = table.xpath(".//tr[th='queue']/td")
        found[slug] = " ".join(cell[0].text_content().split()) if cell else None
    return found


def queue_metrics(client: FlaskClient) -> dict[str, float]:
    families = text_string_to_metric_families(client.get("/metrics").text)
    return {f.name: f.samples[0].value for f in families if f.name.startswith("feedsvc_queue_")}


def test_a_waiting_and_a_leased_source_show_everywhere(
    queue: Queue, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = stored_rows(queue.store)
    leased, waiting, idle = rows[queue.leased], rows[queue.waiting], rows[queue.idle]
    assert leased["leased_by"] == HOST and waiting["leased_by"] is None
    assert idle["queued_at"] is None and idle["due_at"] is not None

    lines = status_lines(queue.config, capsys)
    assert lines[queue.leased].endswith(
        f": never ingested next_due={leased['due_at'].isoformat()} "
        f"queued_since={leased['queued_at'].isoformat()} "
        f"leased_by={HOST} lease_until={leased['lease_until'].isoformat()}"
    )
    assert lines[queue.waiting].endswith(
        f"next_due={waiting['due_at'].isoformat()} queued_since={waiting['queued_at'].isoformat()}"
    )
    assert lines[queue.idle].endswith(f"never ingested next_due={idle['due_at'].isoformat()}")

    client = create_app(queue.config).test_client()
    health = {s["topic"]: s["queue"] for s in client.get("/healthz").get_json()["sources"]}
    iso = {
        topic: {name: v.isoformat() if isinstance(v, datetime) else v for name, v in row.items()}
        for topic, row in rows.items()
    }
    assert health == iso

    cells = queue_cells(client, list(PAGES))
    assert cells[queue.leased].startswith("queued since ")
    until = leased["lease_until"].strftime("%H:%M:%S UTC")
    assert cells[queue.leased].endswith(f"; held by {HOST} until {until}")
    assert cells[queue.waiting].endswith("; waiting for a host")
    assert cells[queue.idle] == "not queued"

    gauges = queue_metrics(client)
    assert gauges["feedsvc_queue_sources_queued"] == 2
    assert gauges["feedsvc_queue_sources_leased"] == 1
    waited = (datetime.now(UTC) - waiting["queued_at"]).total_seconds()
    assert 0 < gauges["feedsvc_queue_oldest_waiting_seconds"] <= waited + 1

    queue.store.renew_leases(HOST, 0)  # the host gave its lease back (or died): it ran out
    ran_out = stored_rows(queue.store)[queue.leased]["lease_until"]
    assert queue_cells(client, list(PAGES))[queue.leased].endswith(
        f"; the lease of {HOST} ran out at {ran_out.strftime('%H:%M:%S UTC')}: "
        "the next host to poll takes it"
    )
    gauges = queue_metrics(client)
    assert gauges["feedsvc_queue_sources_leased"] == 0
    oldest = min(leased["queued_at"], waiting["queued_at"])  # both wait now
    waited = (datetime.now(UTC) - oldest).total_seconds()
    assert 0 < gauges["feedsvc_queue_oldest_waiting_seconds"] <= waited + 1


def test_sqlite_shows_no_queue_and_no_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = load(write_config(tmp_path, PAGES))
    prepare(config)
    lines = status_lines(config, capsys)
    assert sorted(lines) == sorted(PAGES)
    assert all(line.endswith(": never ingested") for line in lines.values())
    client = create_app(config).test_client()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert [s["queue"] for s in response.get_json()["sources"]] == [None, None, None]
    assert queue_cells(client, list(PAGES)) == dict.fromkeys(PAGES)
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and "feedsvc_ingest_runs" in metrics.text
    assert queue_metrics(client) == {}
