"""Image probes: one HEAD request per new image, so enclosures carry a real length and type.

RSS wants `<enclosure length>` in bytes and readers trust the media type; the listing
page gives neither. Each image is asked about once, after its item is stored and the
feeds are published (a slow image host never holds an ingest back), at most
`image_probes_per_run` per run; a failed probe is tried again on later runs, up to
MAX_ATTEMPTS times in all (the item's "image-size" task in the store, beside its
enrichment). Requests are never made while serving a feed.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from feedsvc.fetch.client import Fetcher, FetchError
from feedsvc.fetch.guard import source_guard
from feedsvc.store import Store

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # runs that may try one image before it is left without a size
_RUNNING = threading.Lock()  # scheduler jobs run in threads: one probe loop at a time


def probe_images(store: Store, fetcher: Fetcher, limit: int) -> int:
    """HEAD up to `limit` images still unprobed; returns how many gave a size or a type.

    When another thread of this process is already probing, this run leaves it to it.
    """
    if not _RUNNING.acquire(blocking=False):
        return 0
    try:
        return _probe(store, fetcher, limit)
    finally:
        _RUNNING.release()


def _probe(store: Store, fetcher: Fetcher, limit: int) -> int:
    recorded = 0
    for probe in store.pending_image_probes(limit, MAX_ATTEMPTS):
        try:
            head = fetcher.head(probe.image_url, source_guard(probe.source_url))
            media_type = (head.content_type or "").split(";")[0].strip().lower() or None
            if media_type and not media_type.startswith("image/"):
                raise FetchError(f"{probe.image_url} answers {media_type}, not an image")
        except FetchError as exc:
            log.info("probe: %s (try %d of %d)", exc, probe.attempts + 1, MAX_ATTEMPTS)
            store.record_image_probe_failure(probe, datetime.now(UTC))
            continue
        now = datetime.now(UTC).replace(microsecond=0)
        store.record_image_probe(probe, head.content_length, media_type, now)
        recorded += 1
    return recorded
