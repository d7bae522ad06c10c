"""Fetch each new item's own page once: fill its fields from it (`enrich = true`) and take
its main text (`content = "full"`).

At most `enrich_per_run` pages per run, through the same polite fetcher (robots.txt,
per-host delay, size cap) and the address guard; what is left, or failed, waits for a
later run. One fetch serves both tasks. A failure never blocks the item: it is stored with
what the listing gave (its summary stands in for the text). What a page gave is kept
(item_tasks.result, items.full_html) and applied again whenever the listing is read, so a
later edit on the listing never undoes it; an edit makes the text due again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from feedsvc.config import Config, SourceConfig
from feedsvc.extract.fulltext import NoFullText, full_text_html
from feedsvc.extract.itempage import enriched, from_json, page_metadata, to_json
from feedsvc.extract.normalize import Context, Item
from feedsvc.fetch.client import Fetched, Fetcher, FetchError, Refused, WrongType
from feedsvc.fetch.guard import Guard, address_guard
from feedsvc.model import TaskOutcome
from feedsvc.store import Store
from feedsvc.store.schema import FULL_TEXT_TASK

log = logging.getLogger(__name__)

TASK = "enrich"
MAX_ATTEMPTS = 3  # a page that failed this often is left alone


def page_tasks(source: SourceConfig) -> tuple[str, ...]:
    """The once-per-item tasks a source's item pages are fetched for."""
    return (TASK,) * source.enrich + (FULL_TEXT_TASK,) * (source.content == "full")


def enrich_new(
    store: Store, fetcher: Fetcher, context: Context, found: Sequence[Item]
) -> tuple[list[Item], list[TaskOutcome]]:
    """The items with those due for their page's tasks done (up to the per-run cap, one
    fetch each), and the state of every due item's tasks to store with them."""
    source = context.source
    tasks = page_tasks(source)
    if not tasks:
        return list(found), []
    guids = [item.guid for item in found]
    if source.enrich:
        known = {guid: from_json(text) for guid, text in store.task_results(TASK, guids).items()}
        found = [enriched(i, *known[i.guid], context) if i.guid in known else i for i in found]
    due = {task: set(store.due_tasks(task, guids, MAX_ATTEMPTS)) for task in tasks}
    waiting = [guid for guid in guids if any(guid in due[task] for task in tasks)]
    if not waiting:
        return list(found), []
    guard = address_guard(source.url, source.enrich_hosts)
    todo = set(waiting[: source.enrich_per_run])
    outcomes = [
        TaskOutcome(guid, task, tried=False)
        for guid in waiting[source.enrich_per_run :]
        for task in tasks
        if guid in due[task]
    ]
    result = []
    for item in found:
        if item.guid in todo:
            wanted = [task for task in tasks if item.guid in due[task]]
            item, done = _page_tasks(fetcher, source, guard, context, item, wanted)
            outcomes.extend(done)
        result.append(item)
    return result, outcomes


def _page_tasks(
    fetcher: Fetcher,
    source: SourceConfig,
    guard: Guard,
    context: Context,
    item: Item,
    wanted: list[str],
) -> tuple[Item, list[TaskOutcome]]:
    page = fetch_item_page(fetcher, source, guard, item.link)
    if not isinstance(page, Fetched):
        return item, [replace(page, guid=item.guid, task=task) for task in wanted]
    outcomes = []
    if TASK in wanted:
        metadata = page_metadata(page.body, page.encoding)
        outcomes.append(TaskOutcome(item.guid, TASK, result=to_json(metadata, page.url)))
        item = enriched(item, metadata, page.url, context)
    if FULL_TEXT_TASK in wanted:
        text, outcome = main_text(page, item.guid)
        outcomes.append(outcome)
        item = replace(item, full_html=text) if text else item
    return item, outcomes


def fetch_item_page(
    fetcher: Fetcher, source: SourceConfig, guard: Guard, link: str
) -> Fetched | TaskOutcome:
    """The item's page, or the failed outcome (its guid and task left to fill) that says why:
    final when asking again gives the same answer (a refused address, a PDF)."""
    try:
        return fetcher.fetch(link, robots=source.robots, guard=guard, headers=source.headers)
    except FetchError as exc:
        log.info("item page: %s: %s", link, exc)
        final = isinstance(exc, Refused | WrongType)
        return TaskOutcome("", "", error=f"{link}: {exc}", final=final)


def main_text(page: Fetched, guid: str) -> tuple[str | None, TaskOutcome]:
    """The page's main text and the full-text task's outcome; a page without one (a paywall
    stub, no article) is final: the item keeps its summary."""
    try:
        text = full_text_html(page.body, page.encoding, page.url)
    except NoFullText as exc:
        log.info("full text: %s: %s", page.url, exc)
        return None, TaskOutcome(guid, FULL_TEXT_TASK, error=f"{page.url}: {exc}", final=True)
    return text, TaskOutcome(guid, FULL_TEXT_TASK)


def fill_backlog(
    store: Store,
    fetcher: Fetcher,
    config: Config,
    topic: str,
    source: SourceConfig,
    budget: int,
    now: datetime,
) -> int:
    """Backfilled items' main text, `budget` pages at most (what the run's listing left of
    `enrich_per_run`), newest first, each filtered again through the custom feeds; returns
    how many pages were fetched."""
    if source.content != "full" or budget <= 0:
        return 0
    todo = store.backlog(topic, source.url, budget, MAX_ATTEMPTS)
    guard = address_guard(source.url, source.enrich_hosts)
    for guid, link in todo:
        page = fetch_item_page(fetcher, source, guard, link)
        if isinstance(page, Fetched):
            text, outcome = main_text(page, guid)
        else:
            text, outcome = None, replace(page, guid=guid, task=FULL_TEXT_TASK)
        store.record_full_text(
            topic,
            source.url,
            outcome,
            text,
            now,
            config.custom_feeds,
            config.feeds.archive_page_size,
        )
    return len(todo)
