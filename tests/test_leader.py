"""One scheduler across hosts: the leader is elected by the store and named by /healthz.

On PostgreSQL the lead is a session advisory lock on a connection of its own: losing that
connection loses the lead at once, and another process takes it. On SQLite the file lock
stays; either way the leader records itself (host:pid, since when).
"""

from __future__ import annotations

import os
import socket
import threading

import pytest
from conftest import TOPIC_PATH, PageServer
from faults import wait_until
from sqlalchemy import text

from feedsvc.config import Config
from feedsvc.jobs.schedule import run_scheduler
from feedsvc.store import Store
from feedsvc.store.cluster import LeaderLock
from feedsvc.web import create_app


@pytest.mark.both_databases
def test_the_scheduler_leads_ingests_at_once_and_healthz_names_it(
    server: PageServer, config: Config, store: Store
) -> None:
    stop = threading.Event()
    scheduler = threading.Thread(target=run_scheduler, args=(config, stop))
    scheduler.start()
    try:
        me = f"{socket.gethostname()}:{os.getpid()}"
        wait_until(lambda: (leader := store.leader()) is not None and leader.holder == me, 30)
        wait_until(lambda: store.count_items() == 21, 30)  # the start-up ingest, at once
        health = create_app(config).test_client().get("/healthz").json
        assert health["scheduler"]["leader"] == me
        assert health["scheduler"]["since"] == store.leader().since.isoformat()
    finally:
        stop.set()
        scheduler.join(30)
    assert not scheduler.is_alive()
    assert [p for p, _ in server.requests] == [TOPIC_PATH]


@pytest.mark.parametrize("database_kind", ["postgresql"])
def test_a_lost_lock_connection_hands_the_lead_over(config: Config, store: Store) -> None:
    first = LeaderLock(config.service.database, "host-a:1")
    second = LeaderLock(config.service.database, "host-b:2")
    try:
        assert first.try_acquire() and first.held()
        assert not second.try_acquire()  # one leader at a time
        assert not second.try_acquire()  # and trying again does not stack anything
        assert store.leader().holder == "host-a:1"
        with store.engine.connect() as conn:  # the leader's session dies (host lost, restart)
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()"
                )
            )
        wait_until(lambda: not first.held(), 10)
        wait_until(second.try_acquire, 10)
        assert second.held() and not first.held()
        assert store.leader().holder == "host-b:2"
        assert not first.try_acquire()  # the old leader comes back as a follower
    finally:
        first.release()
        second.release()
