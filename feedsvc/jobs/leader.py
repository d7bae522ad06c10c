"""Exactly one scheduler across hosts: the leader holds a PostgreSQL advisory lock.

Every host may run `feedsvc schedule`; each tries the lock every `RETRY_SECONDS`. The one
that gets it starts its scheduler at once (every source is due now, so it ingests at
once), then checks its lock connection every `CHECK_SECONDS` and stops scheduling the
moment the lock is gone (connection lost, database restarted), going back to following.
A leader that dies outright (kill -9, host lost) drops its session, and with it the lock:
at once when its socket closes, within the keepalive window when its host vanished.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

from apscheduler.schedulers.base import BaseScheduler

from feedsvc.store import Store
from feedsvc.store.cluster import LeaderLock

log = logging.getLogger(__name__)

CHECK_SECONDS = 2.0
RETRY_SECONDS = 2.0


def holder_name() -> str:
    """How /healthz and `feedsvc status` name this process: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def lead_when_elected(
    store: Store, start: Callable[[], BaseScheduler], stop: threading.Event
) -> None:
    """Follow until this process wins the lock, schedule while it holds it; until `stop`."""
    lock = LeaderLock(store.engine.url, holder_name())
    following_said = False
    try:
        while not stop.is_set():
            if not _try(lock):
                if not following_said:
                    log.info("following: another process leads the scheduling")
                    following_said = True
                stop.wait(RETRY_SECONDS)
                continue
            log.info("leading the scheduling as %s", lock.holder)
            scheduler = start()
            try:
                while not stop.wait(CHECK_SECONDS) and lock.held():
                    pass
            finally:
                scheduler.shutdown(wait=False)  # no new job starts from here on
            if not stop.is_set():
                log.warning("lost the lead: scheduling stopped; following again")
                following_said = True
    finally:
        lock.release()


def _try(lock: LeaderLock) -> bool:
    try:
        return lock.try_acquire()
    except Exception as exc:  # the database is unreachable: try again later
        log.warning("cannot reach the store to elect a scheduler: %s", exc)
        return False
