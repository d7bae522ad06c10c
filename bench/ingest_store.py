"""A store filled for the ingest benchmarks: N topics of one source each, 20 items of 10
types per source stored in bulk, every source left as if ingested before (its page's
hash, the config's fingerprint and a success recorded) and every feed clean, so that a
run of an unchanged page stores and renders nothing. SQLite or PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from bench.generate import typed_item
from feedsvc.config import Config
from feedsvc.extract.fingerprint import extraction_fingerprint
from feedsvc.jobs.cycle import targets
from feedsvc.model import Item
from feedsvc.store import Store

ITEMS, KINDS = 20, 10  # a page's items and their types
COMMON = 10**8  # the numbers of the items every unmeasured source's page lists


def stored_items(first: int) -> list[Item]:
    """A source's 20 stored items from number `first` on, of the 10 types in turn."""
    return [typed_item(n, p, KINDS) for p, n in enumerate(range(first, first + ITEMS))]


def fill(store: Store, config: Config, common: bytes) -> None:
    """Store 20 items per source in one bulk insert, then leave every source as ingested
    before with the page `common` and every feed clean."""
    now = datetime.now(UTC).replace(microsecond=0)
    store.bulk_insert(
        [
            (topic.slug, source.url, stored_items(number * ITEMS))
            for number, (topic, source) in enumerate(targets(config))
        ],
        now,
    )
    digest = hashlib.sha256(common).hexdigest()
    rows = [
        (digest, extraction_fingerprint(source), now.isoformat(" "), ITEMS, topic.slug, source.url)
        for topic, source in targets(config)
    ]
    marker = "%s" if store.dialect == "postgresql" else "?"
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE sources SET body_hash = ?, extraction_fingerprint = ?, last_success_at = ?,"
            " items_on_page = ? WHERE topic = ? AND url = ?".replace("?", marker),
            rows,
        )
        conn.exec_driver_sql("UPDATE feeds SET dirty = false")
