"""`python -m tests.support.queue_host CONFIG INTERVAL LEASE POLL`: what `feedsvc schedule`
runs, with the shared queue's pace in seconds (the command's is minutes), until SIGTERM."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

from feedsvc.config import load
from feedsvc.jobs.schedule import run_scheduler
from feedsvc.jobs.worker import QueueTiming


def main(argv: list[str]) -> int:
    config_path, interval, lease, poll = argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    timing = QueueTiming(float(interval), float(lease), float(poll))
    run_scheduler(load(Path(config_path)), stop, timing)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
