"""Every host takes its share of the ingest on PostgreSQL: work from the queue in the store.

The leader only schedules (`enqueue_due`, from feedsvc.jobs.schedule); every process that
runs `feedsvc schedule` or `serve`, leader or not, claims queued sources here, a batch of
`concurrency` x AHEAD_PER_THREAD at a time, and runs the one write path on them. Each
source is leased to this process (host:pid) and leaves the queue once its ingest is
committed; a thread renews the leases every third of their length. A process killed
mid-run renews nothing: its sources are claimed again by another host once the leases
run out. A host with nothing to claim publishes feeds left dirty (by a host that died
between storing and publishing), so no change waits for the next ingest.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from feedsvc.config import Config
from feedsvc.fetch.client import Fetcher, make_fetcher
from feedsvc.jobs.cycle import publish_and_export, run_cycle, targets
from feedsvc.jobs.fetching import AHEAD_PER_THREAD, Target
from feedsvc.jobs.leader import holder_name
from feedsvc.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueTiming:
    """How the shared ingest is paced: every interval, leases, polls (short in tests)."""

    interval_seconds: float
    lease_seconds: float
    poll_seconds: float

    @classmethod
    def of(cls, config: Config) -> QueueTiming:
        """The pace `[ingest]` sets: interval_minutes, queue_lease_seconds, queue_poll_seconds."""
        return cls(
            interval_seconds=config.ingest.interval_minutes * 60.0,
            lease_seconds=config.ingest.queue_lease_seconds,
            poll_seconds=config.ingest.queue_poll_seconds,
        )


def scheduled_ids(store: Store, config: Config) -> dict[int, Target]:
    """Every configured source by its row id in the store."""
    chosen = targets(config)
    ids = store.source_ids((topic.slug, source.url) for topic, source in chosen)
    return {ids[(topic.slug, source.url)]: (topic, source) for topic, source in chosen}


def work_queue(store: Store, config: Config, timing: QueueTiming, stop: threading.Event) -> None:
    """Claim queued sources and ingest them until `stop`; leases given back at the end."""
    holder = holder_name()
    known = scheduled_ids(store, config)
    renewing = threading.Thread(
        target=_renew, args=(store, holder, timing, stop), name="lease-renewal", daemon=True
    )
    renewing.start()
    fetcher = make_fetcher(config)
    try:
        while not stop.is_set():
            try:
                if not _run_claimed(store, fetcher, config, known, holder, timing):
                    _publish_left_over(store, config)
                    stop.wait(timing.poll_seconds)
            except Exception:  # the store is unreachable, a cycle failed
                log.exception("shared ingest: this batch failed; its sources run again")
                _give_back(store, holder)  # else the renewals would hold them for ever
                stop.wait(timing.poll_seconds)
    finally:
        fetcher.close()
        renewing.join()
        _give_back(store, holder)


def _run_claimed(
    store: Store,
    fetcher: Fetcher,
    config: Config,
    known: dict[int, Target],
    holder: str,
    timing: QueueTiming,
) -> bool:
    """Run one batch of claimed sources; False when the queue had nothing for this host."""
    batch = config.ingest.concurrency * AHEAD_PER_THREAD
    claimed = store.claim_sources(holder, batch, timing.lease_seconds)
    if not claimed:
        return False
    for source in claimed:
        if source not in known:  # dropped from this host's config: not ours to run
            store.finish_source(source, holder)
    chosen = [source for source in claimed if source in known]
    run_cycle(
        store,
        fetcher,
        config,
        [known[source] for source in chosen],
        stored=lambda position: store.finish_source(chosen[position], holder),
    )
    return True


def _publish_left_over(store: Store, config: Config) -> None:
    if store.dirty_feeds():
        publish_and_export(store, config)


def _renew(store: Store, holder: str, timing: QueueTiming, stop: threading.Event) -> None:
    while not stop.wait(timing.lease_seconds / 3):
        try:
            store.renew_leases(holder, timing.lease_seconds)
        except Exception as exc:  # unreachable for longer than a lease: others take over
            log.warning("cannot renew this host's leases: %s", exc)


def _give_back(store: Store, holder: str) -> None:
    """A stopping host's leases end now: another host claims its sources at once."""
    try:
        store.renew_leases(holder, 0)
    except Exception as exc:
        log.warning("cannot give this host's leases back (they run out): %s", exc)
