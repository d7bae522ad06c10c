"""How a web worker learns that a publish happened, on whichever host it ran.

SQLite (one host): the generation marker file the publisher replaces. PostgreSQL (several
hosts): the store's publish version, kept current by one LISTEN connection in a thread of
this worker, with a re-read of the version whenever the channel stays silent for
`CHECK_SECONDS` (the safety net: NOTIFY is not durable) and after every reconnect. The
request path only reads `PublishWatch.version`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TYPE_CHECKING

from feedsvc.config import Config, sqlite_file
from feedsvc.generation import generation_marker

if TYPE_CHECKING:
    from feedsvc.store.engine import Store

log = logging.getLogger(__name__)

CHECK_SECONDS = 5.0
RECONNECT_SECONDS = 1.0


class PublishWatch:
    """The store's publish version as this process last learned it (None while unknown)."""

    def __init__(self, store: Store, check_seconds: float = CHECK_SECONDS) -> None:
        self.store = store
        self.check_seconds = check_seconds
        self.version: int | None = None
        self._thread = threading.Thread(target=self._follow, name="publish-watch", daemon=True)
        self._thread.start()

    def __call__(self) -> int | None:
        return self.version

    def wait_for_change(self, since: int | None, timeout: float) -> int | None:
        """Block until the version differs from `since` (or the timeout); the version then."""
        deadline = time.monotonic() + timeout
        while self.version == since and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.version

    def _follow(self) -> None:
        """Listen for ever; after a lost connection, reconnect and resync the version."""
        from feedsvc.store.cluster import listen  # PostgreSQL only: SQLAlchemy and psycopg

        lost = False
        while True:
            try:
                for _ in listen(self.store.engine.url, self.check_seconds):
                    self.version = self.store.publication_version()
                    if lost:
                        log.info("publish watch listening again")
                        lost = False
            except Exception as exc:
                if not lost:  # once per outage, not at every attempt
                    log.warning("publish watch lost its connection (%s); reconnecting", exc)
                    lost = True
                self.version = None  # serve from the store until the version is known again
                time.sleep(RECONNECT_SECONDS)


def publish_stamp(config: Config) -> Path | Callable[[], Hashable | None]:
    """What tells this worker's FeedCache that a publish happened (see module doc); the store
    is opened only for PostgreSQL, so a SQLite worker loads no SQLAlchemy for it."""
    if sqlite_file(config.service.database) is not None:
        return generation_marker(config)
    from feedsvc.store.engine import open_store

    return PublishWatch(open_store(config.service, readonly=True))
