"""Fetch many sources at once, and store them one at a time on the write path.

Fetching is network-bound: up to `[ingest] concurrency` sources are fetched together on
a pool of threads, each with a fetcher of its own (a requests session is not shared
between threads); the per-host delay and robots.txt still hold across them all
(`feedsvc.fetch.politeness.HOSTS` is process-wide). Extracting and storing stay on the
calling thread, the one write path, in config order unless a fetch is slow: a slow or
hanging source holds one pool thread, and the writes for at most ORDER_GRACE_SECONDS.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager

from feedsvc.config import Config, SourceConfig, TopicConfig
from feedsvc.fetch.client import Fetched, Fetcher, make_fetcher
from feedsvc.ingest.source import Fetch, PageFetch, fetch_pages, start_fetch
from feedsvc.model import SourceStatus
from feedsvc.store import Store

Target = tuple[TopicConfig, SourceConfig]
# Fetches started ahead per pool thread: enough to keep every thread busy while the write
# path stores, few enough that validators read ahead are still current.
AHEAD_PER_THREAD = 2
ORDER_GRACE_SECONDS = 1.0


def fetched_in_turn(
    store: Store, config: Config, sources: Sequence[Target]
) -> Iterator[tuple[int, Fetch]]:
    """Each source's position in `sources` with its finished fetch, in that order unless an
    earlier fetch is slow; at most `concurrency` fetching at a time."""
    with fetch_pool(config) as fetch:
        ahead = config.ingest.concurrency * AHEAD_PER_THREAD
        waiting: dict[Future[list[Fetched]], tuple[int, Fetch]] = {}
        pending = enumerate(sources)
        while True:
            for position, (topic, source) in pending:
                started = start_fetch(store, topic, source, fetch)
                waiting[started.pages] = (position, started)
                if len(waiting) >= ahead:
                    break
            if not waiting:
                return
            wait(waiting, return_when=FIRST_COMPLETED)
            _wait_for_earlier(waiting)
            ready = [future for future in waiting if future.done()]
            for future in sorted(ready, key=lambda future: waiting[future][0]):
                yield waiting.pop(future)


def _wait_for_earlier(waiting: dict[Future[list[Fetched]], tuple[int, Fetch]]) -> None:
    """Give sources before the first finished one up to ORDER_GRACE_SECONDS from their start:
    sources are stored in config order (which topic an item shared by two reached first)
    unless a fetch is slow, and a hanging one holds the others back once, that long."""
    first_done = min(position for future, (position, _) in waiting.items() if future.done())
    earlier = {f: fetch for f, (position, fetch) in waiting.items() if position < first_done}
    if earlier:
        deadline = min(fetch.started for fetch in earlier.values()) + ORDER_GRACE_SECONDS
        wait(earlier, timeout=max(0.0, deadline - time.monotonic()))


@contextmanager
def fetch_pool(config: Config) -> Iterator[PageFetch]:
    """A PageFetch that fetches on `concurrency` threads, each with its own fetcher."""
    fetchers: list[Fetcher] = []
    local = threading.local()
    lock = threading.Lock()

    def own_fetcher() -> Fetcher:
        if not hasattr(local, "fetcher"):
            local.fetcher = make_fetcher(config)
            with lock:
                fetchers.append(local.fetcher)
        return local.fetcher

    def on_pool(source: SourceConfig, validators: SourceStatus | None) -> Future[list[Fetched]]:
        return pool.submit(lambda: fetch_pages(own_fetcher(), source, validators))

    pool = ThreadPoolExecutor(config.ingest.concurrency, thread_name_prefix="fetch")
    try:
        yield on_pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for fetcher in fetchers:
            fetcher.close()
