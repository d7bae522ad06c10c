"""Synthetic data for the benchmarks: a store grown to any size, a listing page to ingest.

The items come from tests/support/items.py, spread over its TOPICS (the first topic takes
30 %, so even the smallest store holds 60+ items in every feed measured: topic, type,
both). The store is filled through Store.bulk_insert.
"""

from __future__ import annotations

import html
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime

from feedsvc.config import Config
from feedsvc.jobs.cycle import publish_and_export
from feedsvc.model import Item
from feedsvc.store import Store
from tests.support.items import TOPIC_WEIGHTS, TOPICS, TYPES, item, source_url

BATCH = 50_000
Fill = Callable[[Store, int, int, datetime], None]  # adds the items numbered start..stop-1
# Types a page may hold beyond those of tests/support/items.py (`kinds` up to 10).
MORE_TYPES = {"podcast": "Podcast", "video": "Video"}


def published_store(config: Config, size: int, fill: Fill | None = None) -> Store:
    """A store of `size` synthetic items (`fill`: grow's, or another benchmark's items) with
    every feed published and the WAL checkpointed, so what a measurement reads is the
    database file and no write of the filling is still pending. Archive pages are left to
    later publishes: a million items would take minutes to page."""
    store = Store(config.service.database)
    store.create_schema()
    started = time.monotonic()
    (fill or grow)(store, 0, size, datetime.now(UTC).replace(microsecond=0))
    publish_and_export(store, config, archive_budget=0)
    with store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    print(f"bench: {size:,} items stored in {time.monotonic() - started:.0f} s", flush=True)
    return store


def grow(store: Store, start: int, stop: int, now: datetime) -> None:
    """Add items numbered start..stop-1, BATCH at a time, one bulk insert per topic."""
    rng = random.Random(start)
    for first in range(start, stop, BATCH):
        by_topic: dict[str, list[Item]] = {}
        for number in range(first, min(first + BATCH, stop)):
            chunk = by_topic.setdefault(rng.choices(TOPICS, TOPIC_WEIGHTS)[0], [])
            chunk.append(item(number, rng, len(chunk)))
        store.bulk_insert(
            [(topic, source_url(topic), chunk) for topic, chunk in by_topic.items()], now
        )


def listing_page(first: int, count: int = 100, kinds: int | None = None) -> bytes:
    """A topic page in the institute's layout holding `count` items from number `first` on;
    an item looks the same on every page that lists it (pages whose windows overlap).
    `kinds`: the items' types taken in turn from that many (`typed_item`)."""
    return (
        "<html><body><ul class='teasers list organic'>"
        + "".join(_teasers(first, count, kinds))
        + "</ul></body></html>"
    ).encode("utf-8")


def typed_item(number: int, position: int, kinds: int | None = None) -> Item:
    """Item `number` of tests/support/items.py; with `kinds`, its type is type number
    `number % kinds` of its TYPES and then MORE_TYPES (at most 10 in all)."""
    fake = item(number, random.Random(number), position)
    if kinds is None:
        return fake
    slug, label = [*TYPES.items(), *MORE_TYPES.items()][number % kinds]
    return replace(fake, type_slug=slug, type_label=label)


def _teasers(first: int, count: int, kinds: int | None) -> Iterator[str]:
    for number in range(first, first + count):
        fake = typed_item(number, 0, kinds)
        date = fake.published.strftime("%b %d, %Y") if fake.published else ""
        yield (
            f"<li><div class='img-wrap'><a href='{fake.link}'><img src='{fake.image_url}' "
            f"alt='{html.escape(fake.image_caption or '', quote=True)}'></a></div>"
            f"<div class='text'><p class='type'>{fake.type_label}</p>"
            f"<h3 class='title'><a href='{fake.link}'>{html.escape(fake.title)}</a></h3>"
            f"<p class='desc'>{html.escape(fake.summary_text)}</p>"
            f"<p class='date'>{date}</p></div></li>"
        )
