"""`python -m bench.queue_worker CONFIG LEASE`: one "host" of the shared ingest that only
works the queue in the store (feedsvc.jobs.worker), until SIGTERM. The benchmark queues
the sources itself, as the leader does; it skips the start-up publish, which a store
filled in bulk would spend minutes on before the interval it measures."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

from feedsvc.config import load
from feedsvc.jobs.worker import QueueTiming, work_queue
from feedsvc.store import open_store

HOUR = 3600.0  # the interval: each source is queued once, by the benchmark


def main(argv: list[str]) -> int:
    config_path, lease = argv
    logging.basicConfig(level=logging.WARNING)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    config = load(Path(config_path))
    store = open_store(config.service)
    try:
        work_queue(store, config, QueueTiming(HOUR, float(lease), poll_seconds=0.2), stop)
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
