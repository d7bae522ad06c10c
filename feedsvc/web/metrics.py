"""Prometheus metrics read from the store at scrape time, so every process agrees.

Ingest runs happen in the scheduler process and feeds are served by several gunicorn
workers: a counter kept in one process's memory would be wrong in every other. The store
already records each run (store/runs.py), so a custom collector counts from it when scraped:
no state in any process, nothing added to the ingest or feed paths.

Feed request counters (`feedsvc_feed_requests_total`) are left out on purpose: most feed
requests are answered by nginx from the exported files and never reach the app, so an app
counter would undercount; counting in the app across workers would need prometheus_client's
multiprocess mode (a shared directory, a locked mmap write per request) on the feed hot
path. The access logs of nginx or gunicorn are where request counts are.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from feedsvc.config import Config
from feedsvc.store.engine import Store

DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class StoreCollector(Collector):
    """Ingest counters and gauges of the configured topics and sources, counted by the store."""

    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.config = config

    def collect(self) -> Iterator:
        configured = {(t.slug, s.url) for t in self.config.topics for s in t.sources}
        runs = CounterMetricFamily(
            "feedsvc_ingest_runs",
            "Ingest runs of a source by outcome (fetched, reextracted, not-modified, same-bytes, "
            "error).",
            labels=["topic", "source", "outcome"],
        )
        for total in self.store.run_totals():
            if (total.topic, total.url) in configured:
                runs.add_metric([total.topic, total.url, total.outcome], total.runs)
        yield runs
        timed = self.store.durations(DURATION_BUCKETS)
        histogram = HistogramMetricFamily(
            "feedsvc_ingest_duration_seconds", "How long ingest runs took, fetch to store."
        )
        buckets = [(_bound(b), float(n)) for b, n in timed.buckets]
        histogram.add_metric([], [*buckets, ("+Inf", float(timed.count))], timed.total)
        yield histogram
        stored = self.store.items_per_topic()
        topics = GaugeMetricFamily("feedsvc_items", "Items stored per topic.", labels=["topic"])
        for topic in self.config.topics:
            topics.add_metric([topic.slug], stored.get(topic.slug, 0))
        yield topics
        statuses = {(s.topic, s.url): s for s in self.store.sources()}
        failing = GaugeMetricFamily(
            "feedsvc_source_failing",
            "1 while the source's last ingest failed, else 0.",
            labels=["topic", "source"],
        )
        for topic in self.config.topics:
            for source in topic.sources:
                status = statuses.get((topic.slug, source.url))
                failing.add_metric(
                    [topic.slug, source.url], float(bool(status and status.last_error))
                )
        yield failing
        repairs = self.store.repair_states()
        repaired = GaugeMetricFamily(
            "feedsvc_source_repair",
            "1 while the source has a repair in this state (proposed: waits for feedsvc repair "
            "--apply; applied: its selectors are in force in place of the config's).",
            labels=["topic", "source", "state"],
        )
        for topic in self.config.topics:
            for source in topic.sources:
                kept = repairs.get((topic.slug, source.url))
                for state in ("proposed", "applied"):
                    repaired.add_metric(
                        [topic.slug, source.url, state], float(bool(kept and kept[0] == state))
                    )
        yield repaired
        yield from _queue_gauges(self.store)


def _queue_gauges(store: Store) -> Iterator[GaugeMetricFamily]:
    """The shared ingest's queue on PostgreSQL (none on SQLite, which keeps no queue): a
    growing oldest wait means the hosts claim sources slower than the leader queues them."""
    totals = store.queue_totals()
    if totals is None:
        return
    yield GaugeMetricFamily(
        "feedsvc_queue_sources_queued",
        "Sources in the shared ingest's queue, waiting for a host or running on one.",
        value=totals.queued,
    )
    yield GaugeMetricFamily(
        "feedsvc_queue_sources_leased",
        "Queued sources a host holds by a live lease (running now).",
        value=totals.leased,
    )
    yield GaugeMetricFamily(
        "feedsvc_queue_oldest_waiting_seconds",
        "How long the oldest queued source no host holds has waited (0: none waits).",
        value=totals.oldest_waiting_seconds,
    )


def _bound(value: float) -> str:
    return repr(float(value))


def exposition(store: Store, config: Config) -> bytes:
    """The Prometheus text exposition of everything the store knows."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store, config))
    return generate_latest(registry)
