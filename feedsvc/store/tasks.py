"""Once-per-item tasks, kept so a failure is retried on a later run: enrichment from the
item's own page (done during the ingest, feedsvc.ingest.enrichment) and the HEAD probe of the
item's image (after the publish, feedsvc.ingest.probe). Both share `item_tasks`: a state
(pending, failed, done, refused, off-page) and an attempt count per item and task."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from feedsvc.config.custom_feeds import CustomFeed, searchable_text
from feedsvc.config.settings import FeedsConfig
from feedsvc.keys import FeedKey, affected_feeds
from feedsvc.model import ImageProbe, TaskOutcome
from feedsvc.store.custom import Candidate, join_custom_feeds
from feedsvc.store.documents import mark_dirty
from feedsvc.store.schema import (
    BACKLOG,
    FULL_TEXT_TASK,
    IMAGE_SIZE_TASK,
    custom_items,
    item_tasks,
    items,
    sources,
    topic_items,
)
from feedsvc.store.search_index import index_items
from feedsvc.store.sql import upsert

DUE_STATES = ("pending", "failed")  # item_tasks states that a later run takes up again
OFF_PAGE = "off-page"  # was due when its item left the page: taken up if it comes back


class TaskStore:
    """Reads of the `item_tasks` table; its writes ride on the ingest's transaction."""

    engine: Engine

    def due_tasks(self, task: str, guids: Sequence[str], max_attempts: int) -> list[str]:
        """Of `guids` (in order), those whose `task` is still to do: items never stored, and
        items whose task is pending or failed fewer than `max_attempts` times."""
        with self.engine.connect() as conn:
            stored = set(conn.scalars(select(items.c.guid).where(items.c.guid.in_(guids))))
            states = {
                row.guid: row
                for row in conn.execute(
                    select(item_tasks).where(
                        item_tasks.c.task == task, item_tasks.c.guid.in_(guids)
                    )
                )
            }
        due = []
        for guid in guids:
            row = states.get(guid)
            if row is None:
                if guid not in stored:
                    due.append(guid)
            elif row.state in (*DUE_STATES, OFF_PAGE) and row.attempts < max_attempts:
                due.append(guid)
        return due

    def task_results(self, task: str, guids: Sequence[str]) -> dict[str, str]:
        """What `task` found for those of `guids` it is done for (as stored, JSON)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(item_tasks.c.guid, item_tasks.c.result).where(
                    item_tasks.c.task == task,
                    item_tasks.c.guid.in_(guids),
                    item_tasks.c.result.is_not(None),
                )
            )
            return {row.guid: row.result for row in rows}

    def has_due_tasks(self, topic: str, url: str, task: str, max_attempts: int) -> bool:
        """Whether an item on the source's last stored page still waits for `task` (so the
        page must be read again); one that has left the page waits until it comes back."""
        with self.engine.connect() as conn:
            waiting = conn.scalar(
                select(func.count())
                .select_from(item_tasks.join(sources))
                .where(
                    sources.c.topic == topic,
                    sources.c.url == url,
                    item_tasks.c.task == task,
                    item_tasks.c.state.in_(DUE_STATES),
                    item_tasks.c.attempts < max_attempts,
                )
            )
        return bool(waiting)

    def pending_image_probes(self, limit: int, max_attempts: int) -> list[ImageProbe]:
        """Up to `limit` images still to probe (tried fewer than `max_attempts` times), newest
        items first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(items.c.guid, items.c.image_url, item_tasks.c.attempts, sources.c.url)
                .join(item_tasks, item_tasks.c.guid == items.c.guid)
                .join(sources, sources.c.id == items.c.source_id)
                .where(
                    item_tasks.c.task == IMAGE_SIZE_TASK,
                    item_tasks.c.state.in_(DUE_STATES),
                    item_tasks.c.attempts < max_attempts,
                    items.c.image_url.is_not(None),
                )
                .order_by(items.c.id.desc())
                .limit(limit)
            )
            return [ImageProbe(*row) for row in rows]

    def record_image_probe(
        self, probe: ImageProbe, length: int | None, media_type: str | None, now: datetime
    ) -> None:
        """Keep what the HEAD said and mark the item's feeds changed so they carry it."""
        with self.engine.begin() as conn:
            item_id = conn.scalar(
                select(items.c.id).where(
                    items.c.guid == probe.guid, items.c.image_url == probe.image_url
                )
            )
            if item_id is None:  # the image changed meanwhile: its own probe is pending
                return
            conn.execute(
                update(items)
                .where(items.c.id == item_id)
                .values(image_length=length, image_type=media_type)
            )
            _probe_tried(conn, probe, "done", now)
            _mark_item_feeds(conn, item_id, now)

    def backlog(self, topic: str, url: str, limit: int, max_attempts: int) -> list[tuple[str, str]]:
        """Up to `limit` (guid, link) of the source's stored items whose main text is queued
        off the listing (backfilled), newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(items.c.guid, items.c.link)
                .join(item_tasks, item_tasks.c.guid == items.c.guid)
                .join(sources, sources.c.id == item_tasks.c.source_id)
                .where(
                    sources.c.topic == topic,
                    sources.c.url == url,
                    item_tasks.c.task == FULL_TEXT_TASK,
                    item_tasks.c.state == BACKLOG,
                    item_tasks.c.attempts < max_attempts,
                )
                .order_by(items.c.order_key.desc())
                .limit(limit)
            )
            return [(row.guid, row.link) for row in rows]

    def record_full_text(
        self,
        topic: str,
        url: str,
        outcome: TaskOutcome,
        text: str | None,
        now: datetime,
        custom: Sequence[CustomFeed] = (),
        page_size: int = FeedsConfig.archive_page_size,
    ) -> None:
        """A backlog item's main text (`text`), or why it could not be had (`outcome.error`).
        A new text is indexed for search, filtered again through the `custom` feeds (it may
        join one, or leave one whose exclude it now matches) and marks the item's feeds changed."""
        with self.engine.begin() as conn:
            source = conn.scalar(
                select(sources.c.id).where(sources.c.topic == topic, sources.c.url == url)
            )
            failed = outcome.error is not None
            state = "refused" if outcome.final else BACKLOG if failed else "done"
            conn.execute(
                update(item_tasks)
                .where(item_tasks.c.guid == outcome.guid, item_tasks.c.task == FULL_TEXT_TASK)
                .values(
                    state=state,
                    attempts=item_tasks.c.attempts + 1,
                    last_error=outcome.error,
                    updated_at=now,
                )
            )
            if failed:
                note_full_text_failures(conn, source, 1, outcome.error, now)
                return
            row = conn.execute(
                select(
                    items.c.id,
                    items.c.title,
                    items.c.summary_text,
                    items.c.author,
                    items.c.type_slug,
                    items.c.order_key,
                    items.c.history,
                    items.c.hidden,
                ).where(items.c.guid == outcome.guid)
            ).one()
            conn.execute(
                update(items).where(items.c.id == row.id).values(full_html=text, updated_at=now)
            )
            searchable = searchable_text(row.title, row.summary_text, text, row.author)
            index_items(conn, [(row.id, row.order_key, searchable)])
            if not row.hidden:  # a hidden item is no feed's member
                edited = Candidate(
                    row.id,
                    topic,
                    row.type_slug,
                    searchable,
                    row.order_key,
                    edited=True,
                    history=row.history,
                )
                join_custom_feeds(conn, custom, [edited], now, page_size)
            _mark_item_feeds(conn, row.id, now)

    def record_image_probe_failure(self, probe: ImageProbe, now: datetime) -> None:
        """One more failed try; later runs try again until the attempts run out."""
        with self.engine.begin() as conn:
            _probe_tried(conn, probe, "failed", now)


def _mark_item_feeds(conn: Connection, item_id: int, now: datetime) -> None:
    """Every feed the item is in has changed (its topics', types' and custom feeds'): render
    it again."""
    for topic, type_slug in conn.execute(
        select(topic_items.c.topic, topic_items.c.type_slug).where(topic_items.c.item_id == item_id)
    ):
        for key in affected_feeds(topic, {type_slug}):
            mark_dirty(conn, key, now)
    for feed in conn.scalars(select(custom_items.c.feed).where(custom_items.c.item_id == item_id)):
        mark_dirty(conn, FeedKey(custom=feed), now)


def _probe_tried(conn: Connection, probe: ImageProbe, state: str, now: datetime) -> None:
    conn.execute(
        update(item_tasks)
        .where(item_tasks.c.guid == probe.guid, item_tasks.c.task == IMAGE_SIZE_TASK)
        .values(state=state, attempts=item_tasks.c.attempts + 1, updated_at=now)
    )


def queue_image_probe(conn: Connection, source: int, guid: str, now: datetime) -> None:
    """A new image (a new item's, or an item's new one): its size is unknown, its probe due."""
    values = {
        "guid": guid,
        "task": IMAGE_SIZE_TASK,
        "source_id": source,
        "state": "pending",
        "attempts": 0,
        "updated_at": now,
    }
    fresh = {"state": "pending", "attempts": 0, "last_error": None, "updated_at": now}
    conn.execute(upsert(conn, item_tasks, values, ["guid", "task"], set_=fresh))


def record_tasks(
    conn: Connection,
    source: int,
    outcomes: Sequence[TaskOutcome],
    on_page: Sequence[str],
    now: datetime,
) -> None:
    """Each outcome's state (a tried task counts one more attempt); tasks still due for
    items no longer on the page wait off-page until their item comes back."""
    for outcome in outcomes:
        state = "pending" if not outcome.tried else "done" if not outcome.error else "failed"
        state = "refused" if outcome.final else state
        values = {
            "guid": outcome.guid,
            "task": outcome.task,
            "source_id": source,
            "state": state,
            "attempts": int(outcome.tried),
            "last_error": outcome.error,
            "result": outcome.result,
            "updated_at": now,
        }
        bump = {
            "result": func.coalesce(outcome.result, item_tasks.c.result),
            "state": state,
            "attempts": item_tasks.c.attempts + int(outcome.tried),
            "last_error": outcome.error,
            "updated_at": now,
        }
        conn.execute(upsert(conn, item_tasks, values, ["guid", "task"], set_=bump))
    failed = [o for o in outcomes if o.task == FULL_TEXT_TASK and o.tried and o.error]
    if failed:
        note_full_text_failures(conn, source, len(failed), failed[-1].error, now)
    conn.execute(
        update(item_tasks)
        .where(
            item_tasks.c.source_id == source,
            item_tasks.c.task != IMAGE_SIZE_TASK,  # a probe needs the image, not the page
            item_tasks.c.state.in_(DUE_STATES),
            item_tasks.c.guid.not_in(list(on_page)),
        )
        .values(state=OFF_PAGE)
    )


def note_full_text_failures(
    conn: Connection, source: int, count: int, error: str | None, now: datetime
) -> None:
    """Per source, for `feedsvc status` and /status: how many items kept their summary because
    their text could not be had, and the last reason."""
    conn.execute(
        update(sources)
        .where(sources.c.id == source)
        .values(
            full_text_failures=sources.c.full_text_failures + count,
            last_full_text_error=error,
            last_full_text_error_at=now,
        )
    )


def requeue_full_text(conn: Connection, guid: str, now: datetime) -> None:
    """An item edited on its page: its main text, if it was ever wanted, is due again."""
    conn.execute(
        update(item_tasks)
        .where(item_tasks.c.guid == guid, item_tasks.c.task == FULL_TEXT_TASK)
        .values(state="pending", attempts=0, last_error=None, updated_at=now)
    )


def queue_backlog(conn: Connection, source: int, guids: Sequence[str], now: datetime) -> None:
    """Backfilled items' main text, to fetch a few per run (they are on no listing the
    ingest reads, so the regular once-per-item pass never meets them)."""
    queued = set(
        conn.scalars(
            select(item_tasks.c.guid).where(
                item_tasks.c.task == FULL_TEXT_TASK, item_tasks.c.guid.in_(guids)
            )
        )
    )
    rows = [
        {"guid": guid, "task": FULL_TEXT_TASK, "source_id": source, "state": BACKLOG}
        | {"attempts": 0, "updated_at": now}
        for guid in guids
        if guid not in queued
    ]
    if rows:
        conn.execute(insert(item_tasks), rows)
