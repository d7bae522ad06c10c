"""One scheduler per deployment: the file lock turns a second one away."""

from __future__ import annotations

import subprocess
import sys

from feedsvc.config import Config
from feedsvc.jobs.schedule import build_scheduler, lock_path, scheduler_lock
from feedsvc.store import Store


def test_a_second_scheduler_refuses_to_run(config: Config) -> None:
    with scheduler_lock(lock_path(config)):
        result = subprocess.run(
            [sys.executable, "-m", "feedsvc.cli", "--config", str(config.path), "schedule"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 0
    assert f"not scheduling: another scheduler holds {lock_path(config)}" in result.stderr


def test_one_job_per_source_due_now_never_overlapping(config: Config, store: Store) -> None:
    scheduler = build_scheduler(config, store)
    publish, job = scheduler.get_jobs()
    assert publish.id == "publish" and publish.max_instances == 1
    assert job.id == f"security-cooperation {config.topics[0].sources[0].url}"
    assert job.max_instances == 1 and job.coalesce is True
    assert job.trigger.interval.total_seconds() == 30 * 60
