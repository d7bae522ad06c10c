"""Fetch each new item's own page once and fill its fields from it (`enrich = true`).

At most `enrich_per_run` pages per run, through the same polite fetcher (robots.txt,
per-host delay, size cap) and the address guard; what is left, or failed, waits for a
later run. A failure never blocks the item: it is stored with what the listing gave.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from feedsvc.config import SourceConfig
from feedsvc.enrich import enriched, page_metadata
from feedsvc.fetch import Fetcher, FetchError
from feedsvc.fetchguard import Guard, address_guard
from feedsvc.normalize import Context, Item
from feedsvc.store import Store, TaskOutcome

log = logging.getLogger(__name__)

TASK = "enrich"
MAX_ATTEMPTS = 3  # a page that failed this often is left alone


def enrich_new(
    store: Store, fetcher: Fetcher, context: Context, found: Sequence[Item]
) -> tuple[list[Item], list[TaskOutcome]]:
    """The items with those due for enrichment enriched (up to the per-run cap), and the
    state of every due item's task to store with them."""
    source = context.source
    due = (
        store.due_tasks(TASK, [item.guid for item in found], MAX_ATTEMPTS) if source.enrich else []
    )
    if not due:
        return list(found), []
    guard = address_guard(source.url, source.enrich_hosts)
    todo = set(due[: source.enrich_per_run])
    outcomes = [TaskOutcome(guid, TASK, tried=False) for guid in due[source.enrich_per_run :]]
    result = []
    for item in found:
        if item.guid in todo:
            item, error = _enrich_one(fetcher, source, guard, context, item)
            outcomes.append(TaskOutcome(item.guid, TASK, error=error))
        result.append(item)
    return result, outcomes


def _enrich_one(
    fetcher: Fetcher, source: SourceConfig, guard: Guard, context: Context, item: Item
) -> tuple[Item, str | None]:
    try:
        page = fetcher.fetch(item.link, robots=source.robots, guard=guard)
    except FetchError as exc:
        log.info("enrich: %s: %s", item.link, exc)
        return item, str(exc)
    return enriched(item, page_metadata(page.body, page.encoding), context, page.url), None
