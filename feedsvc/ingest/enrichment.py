"""Fetch each new item's own page once and fill its fields from it (`enrich = true`).

At most `enrich_per_run` pages per run, through the same polite fetcher (robots.txt,
per-host delay, size cap) and the address guard; what is left, or failed, waits for a
later run. A failure never blocks the item: it is stored with what the listing gave. What a
page gave is kept (item_tasks.result) and applied again whenever the listing is read,
so a later edit on the listing never undoes it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from feedsvc.config import SourceConfig
from feedsvc.extract.itempage import enriched, from_json, page_metadata, to_json
from feedsvc.extract.normalize import Context, Item
from feedsvc.fetch.client import Fetcher, FetchError, Refused
from feedsvc.fetch.guard import Guard, address_guard
from feedsvc.model import TaskOutcome
from feedsvc.store import Store

log = logging.getLogger(__name__)

TASK = "enrich"
MAX_ATTEMPTS = 3  # a page that failed this often is left alone


def enrich_new(
    store: Store, fetcher: Fetcher, context: Context, found: Sequence[Item]
) -> tuple[list[Item], list[TaskOutcome]]:
    """The items with those due for enrichment enriched (up to the per-run cap), and the
    state of every due item's task to store with them."""
    source = context.source
    if not source.enrich:
        return list(found), []
    guids = [item.guid for item in found]
    known = {guid: from_json(text) for guid, text in store.task_results(TASK, guids).items()}
    found = [enriched(i, *known[i.guid], context) if i.guid in known else i for i in found]
    due = store.due_tasks(TASK, guids, MAX_ATTEMPTS)
    if not due:
        return found, []
    guard = address_guard(source.url, source.enrich_hosts)
    todo = set(due[: source.enrich_per_run])
    outcomes = [TaskOutcome(guid, TASK, tried=False) for guid in due[source.enrich_per_run :]]
    result = []
    for item in found:
        if item.guid in todo:
            item, outcome = _enrich_one(fetcher, source, guard, context, item)
            outcomes.append(outcome)
        result.append(item)
    return result, outcomes


def _enrich_one(
    fetcher: Fetcher, source: SourceConfig, guard: Guard, context: Context, item: Item
) -> tuple[Item, TaskOutcome]:
    try:
        page = fetcher.fetch(item.link, robots=source.robots, guard=guard, headers=source.headers)
    except FetchError as exc:
        log.info("enrich: %s: %s", item.link, exc)
        return item, TaskOutcome(item.guid, TASK, error=str(exc), final=isinstance(exc, Refused))
    metadata = page_metadata(page.body, page.encoding)
    outcome = TaskOutcome(item.guid, TASK, result=to_json(metadata, page.url))
    return enriched(item, metadata, page.url, context), outcome
