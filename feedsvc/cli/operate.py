"""Operating the sources: `feedsvc ingest`, `feedsvc backfill` and `feedsvc status`.

(hide, unhide, items and history, the rest of this group, are in `corrections`.)
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from datetime import date, datetime

from feedsvc.cli.common import (
    Command,
    Exit,
    add_source_choice,
    chosen_sources,
    known_topic,
    prepare_store,
)
from feedsvc.config import Config
from feedsvc.model import QueueState, SourceStatus


def _ingest_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--topic", metavar="SLUG", help="only this topic's sources")
    parser.add_argument(
        "--force",
        action="store_true",
        help="store pages even when they look broken (far fewer or incomplete items)",
    )


def ingest(config: Config, args: argparse.Namespace) -> int:
    """Run the write path once for every source (or a topic's); one line per source."""
    from feedsvc.fetch.client import make_fetcher
    from feedsvc.jobs.cycle import run_cycle, targets
    from feedsvc.store import open_store

    if args.topic:
        known_topic(config, args.topic)
    if not args.verbose:  # one printed line per source: the log would say it twice, and
        # the per-item notes (image probes, enrichment retries) are --verbose detail here
        logging.getLogger("feedsvc").setLevel(logging.WARNING)
        logging.getLogger("feedsvc.ingest.source").setLevel(logging.ERROR)
    prepare_store(config)
    store = open_store(config.service)
    fetcher = make_fetcher(config)
    try:
        reports = run_cycle(store, fetcher, config, targets(config, args.topic), force=args.force)
    finally:
        fetcher.close()
        store.close()
    for report in reports:
        print(report.line())
    return Exit.OK if all(report.ok for report in reports) else Exit.FAILED


def _backfill_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_choice(parser)
    limit = parser.add_mutually_exclusive_group()
    limit.add_argument("--pages", metavar="N", type=int, help="read at most N pages this run")
    limit.add_argument(
        "--until", metavar="DATE", type=date.fromisoformat, help="stop past items older than DATE"
    )


def backfill(config: Config, args: argparse.Namespace) -> int:
    """Backfill each chosen source, then render the archives (no WebSub: nothing is new)."""
    from feedsvc.extract.listing import ExtractError
    from feedsvc.fetch.client import FetchError, make_fetcher
    from feedsvc.ingest.backfill import backfill
    from feedsvc.jobs.cycle import publish_and_export
    from feedsvc.store import Store

    chosen = chosen_sources(config, args.topic, args.source)
    prepare_store(config)
    store = Store(config.service.database)
    fetcher = make_fetcher(config)
    failed = interrupted = False
    try:
        for source in chosen:
            report, close = _reporter()
            try:
                summary = backfill(
                    store, fetcher, config, args.topic, source,
                    pages=args.pages, until=args.until, progress=report,
                )  # fmt: skip
            except (FetchError, ExtractError) as exc:  # stored pages stay; the next run retries
                failed = True
                print(f"{args.topic} {source.url}: backfill stopped: {exc}")
                continue
            except KeyboardInterrupt:  # the page being read is rolled back; the rest is kept
                interrupted = True
                print(f"{args.topic} {source.url}: backfill interrupted; run it again to go on")
                break
            finally:
                close()
            print(summary.line())
        publish_and_export(store, config)  # no fetcher: the hub hears nothing of history
    finally:
        fetcher.close()
        store.close()
    return Exit.INTERRUPTED if interrupted else Exit.FAILED if failed else Exit.OK


def _reporter() -> tuple[Callable[[str, int, int], None], Callable[[], None]]:
    """A tqdm bar on a terminal, plain lines otherwise (logs, pipes, tests); and its closer."""
    if not sys.stdout.isatty():

        def line(url: str, new: int, known: int) -> None:
            print(f"  page {url}: new={new} known={known}", flush=True)

        return line, lambda: None
    from tqdm import tqdm

    bar = tqdm(desc="backfill", unit="page")

    def step(url: str, new: int, known: int) -> None:
        bar.set_postfix(new=new, known=known)
        bar.update(1)

    return step, bar.close


def status(config: Config, args: argparse.Namespace) -> int:
    """Every source's last attempt, success and error; exit 1 when one is failing."""
    from feedsvc.store import open_store

    store = open_store(config.service)
    store.create_schema()
    statuses = {(s.topic, s.url): s for s in store.sources()}
    repairs = store.repair_states()
    queues = store.queue_states()
    leader = store.leader()
    store.close()
    failing = False
    for topic in config.topics:
        for source in topic.sources:
            key = (topic.slug, source.url)
            state = statuses.get(key)
            queue = _queue_fields(queues.get(key))
            if state is None or state.last_attempt_at is None:
                print(f"{topic.slug} {source.url}: never ingested{queue}")
                continue
            failing |= state.last_error is not None
            repair = repairs.get(key)
            line = _status_line(state)
            if repair:
                line += f" repair={repair[0]} repair_since={_when(repair[1])}"
            print(f"{topic.slug} {source.url}: {line}{queue}")
    print(
        f"scheduler: leader={leader.holder} since={_when(leader.since)}"
        if leader
        else "scheduler: no leader yet"
    )
    return Exit.FAILED if failing else Exit.OK


def _status_line(state: SourceStatus) -> str:
    line = (
        f"{'FAILING' if state.last_error else 'ok'} last_attempt={_when(state.last_attempt_at)} "
        f"last_success={_when(state.last_success_at)} "
        f"items_on_page={state.items_on_page} items_found={state.items_found}"
    )
    if state.last_error:
        line += f" failing_since={_when(state.failing_since)} error={state.last_error}"
    if state.last_undated_text:
        line += f" last_undated={_when(state.last_undated_at)} {state.last_undated_text}"
    if state.last_full_text_error:
        line += (
            f" full_text_failures={state.full_text_failures} "
            f"last_full_text_error={_when(state.last_full_text_error_at)} "
            f"{state.last_full_text_error}"
        )
    return line


def _queue_fields(queue: QueueState | None) -> str:
    """The source's place in the shared ingest's queue (PostgreSQL; nothing on SQLite)."""
    if queue is None:
        return ""
    fields = f" next_due={_when(queue.due_at)}"
    if queue.queued_at:
        fields += f" queued_since={_when(queue.queued_at)}"
    if queue.leased_by:
        fields += f" leased_by={queue.leased_by} lease_until={_when(queue.lease_until)}"
    return fields


def _when(value: datetime | None) -> str:
    return value.isoformat() if value else "never"


INGESTING = (
    Command("ingest", "ingest every source now, one line per source", ingest, _ingest_arguments),
    Command(
        "backfill",
        "read a topic's older listing pages into the archives (resumable)",
        backfill,
        _backfill_arguments,
    ),
)
REPORTING = (Command("status", "print every source with its last success and error", status),)
