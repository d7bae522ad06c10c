"""`feedsvc backfill`: the command line around backfill.py, with a progress bar on a terminal."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date

from tqdm import tqdm

from feedsvc.cli.site import chosen_sources
from feedsvc.config import Config
from feedsvc.extract.listing import ExtractError
from feedsvc.fetch.client import FetchError, make_fetcher
from feedsvc.ingest.backfill import Progress, backfill
from feedsvc.jobs.cycle import prepare, publish_and_export
from feedsvc.store import Store

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def add_backfill_command(commands: argparse._SubParsersAction) -> None:
    """`backfill`'s arguments."""
    walk = commands.add_parser(
        "backfill", help="read a topic's older listing pages into the archives (resumable)"
    )
    walk.add_argument("--topic", metavar="SLUG", required=True)
    walk.add_argument("--source", metavar="N", type=int, help="only the topic's Nth source")
    limit = walk.add_mutually_exclusive_group()
    limit.add_argument("--pages", metavar="N", type=int, help="read at most N pages this run")
    limit.add_argument(
        "--until", metavar="DATE", type=date.fromisoformat, help="stop past items older than DATE"
    )


def cmd_backfill(config: Config, args: argparse.Namespace) -> int:
    """Backfill each chosen source, then render the archives (no WebSub: nothing is new)."""
    chosen = chosen_sources(config, args.topic, args.source)
    if isinstance(chosen, str):
        print(f"feedsvc: {chosen}", file=sys.stderr)
        return EXIT_USAGE
    prepare(config)
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
    return EXIT_INTERRUPTED if interrupted else EXIT_FAILED if failed else EXIT_OK


def _reporter() -> tuple[Progress, Callable[[], None]]:
    """A tqdm bar on a terminal, plain lines otherwise (logs, pipes, tests); and its closer."""
    if not sys.stdout.isatty():

        def line(url: str, new: int, known: int) -> None:
            print(f"  page {url}: new={new} known={known}", flush=True)

        return line, lambda: None
    bar = tqdm(desc="backfill", unit="page")

    def step(url: str, new: int, known: int) -> None:
        bar.set_postfix(new=new, known=known)
        bar.update(1)

    return step, bar.close
