"""The `feedsvc` command: serve, schedule, migrate, ingest, export, import-db, export-db,
check, status."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from feedsvc import __version__
from feedsvc.cli.backfill import add_backfill_command, cmd_backfill
from feedsvc.cli.corrections import (
    add_correction_commands,
    cmd_hide,
    cmd_history,
    cmd_items,
    cmd_unhide,
)
from feedsvc.cli.operator import add_commands, cmd_demo, cmd_discover
from feedsvc.cli.site import add_preview_command, check_fetch, cmd_preview
from feedsvc.config import Config, ConfigError, load, resolve_path

if TYPE_CHECKING:
    from feedsvc.store import Store

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# Commands a newcomer runs before writing any config: discover uses defaults when there is
# none; demo writes its own.
STANDALONE = ("discover",)
WITHOUT_CONFIG = ("demo",)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, load the config and run one command; returns the exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG
        if args.verbose
        else logging.WARNING
        if args.command == "ingest"
        else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command in WITHOUT_CONFIG:
        return COMMANDS[args.command](None, args)
    path = resolve_path(args.config)
    try:
        config = load(path)
    except ConfigError as exc:
        if args.command in STANDALONE and not path.exists():
            return COMMANDS[args.command](None, args)
        print(f"feedsvc: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return COMMANDS[args.command](config, args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="feedsvc", description="Feeds from topic listing pages.")
    parser.add_argument(
        "--config", metavar="PATH", help="config file (default: $FEEDSVC_CONFIG or ./config.toml)"
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="log debug detail")
    parser.add_argument("--version", action="version", version=f"feedsvc {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="serve feeds with gunicorn and run the scheduler")
    serve.add_argument("--host", help="address to bind (default: [service] host)")
    serve.add_argument("--port", type=int, help="port to bind (default: [service] port)")
    serve.add_argument("--workers", type=int, help="gunicorn workers (default: [service] workers)")
    serve.add_argument("--no-scheduler", action="store_true", help="serve only; ingest elsewhere")
    commands.add_parser("schedule", help="run only the scheduler (one per deployment)")
    commands.add_parser(
        "migrate", help="create or upgrade the store and publish what was never rendered"
    )
    ingest = commands.add_parser("ingest", help="ingest every source now, one line per source")
    ingest.add_argument("--topic", metavar="SLUG", help="only this topic's sources")
    ingest.add_argument(
        "--force",
        action="store_true",
        help="store pages even when they look broken (far fewer or incomplete items)",
    )
    export = commands.add_parser(
        "export", help="write every kept feed into [publish] directory (one per host)"
    )
    export.add_argument(
        "--follow",
        action="store_true",
        help="then rewrite changed feeds within seconds of any host's publish, until stopped",
    )
    import_db = commands.add_parser(
        "import-db", help="copy another store (e.g. the SQLite one) into this empty store"
    )
    import_db.add_argument("source", metavar="URL", help="SQLAlchemy URL of the store to copy")
    export_db = commands.add_parser(
        "export-db", help="copy this store into another, empty one (e.g. PostgreSQL)"
    )
    export_db.add_argument("target", metavar="URL", help="SQLAlchemy URL of the empty store")
    check = commands.add_parser("check", help="validate the config file and exit")
    check.add_argument(
        "--fetch", action="store_true", help="also preview every source; fail when one yields none"
    )
    commands.add_parser("status", help="print every source with its last success and error")
    add_commands(commands)
    add_preview_command(commands)
    add_correction_commands(commands)
    add_backfill_command(commands)
    return parser


def cmd_serve(config: Config, args: argparse.Namespace) -> int:
    from feedsvc.cli.server import exec_serve

    exec_serve(
        config,
        host=args.host or config.service.host,
        port=args.port or config.service.port,
        workers=args.workers or config.service.workers,
        scheduler=not args.no_scheduler,
    )


def cmd_schedule(config: Config, args: argparse.Namespace) -> int:
    from feedsvc.jobs.schedule import run_scheduler

    with contextlib.suppress(KeyboardInterrupt):
        run_scheduler(config)
    return EXIT_OK


def cmd_migrate(config: Config, args: argparse.Namespace) -> int:
    from feedsvc.jobs.cycle import prepare

    prepare(config)
    return EXIT_OK


def cmd_ingest(config: Config, args: argparse.Namespace) -> int:
    from feedsvc.fetch.client import make_fetcher
    from feedsvc.jobs.cycle import prepare, run_cycle, targets
    from feedsvc.store import open_store

    if args.topic and config.topic(args.topic) is None:
        known = ", ".join(t.slug for t in config.topics)
        print(f"feedsvc: unknown topic {args.topic!r}; expected one of: {known}", file=sys.stderr)
        return EXIT_USAGE
    if not args.verbose:  # each source's line is printed below: the log would say it twice
        logging.getLogger("feedsvc.ingest.source").setLevel(logging.ERROR)
    prepare(config)
    store = open_store(config.service)
    fetcher = make_fetcher(config)
    try:
        reports = run_cycle(store, fetcher, config, targets(config, args.topic), force=args.force)
    finally:
        fetcher.close()
        store.close()
    for report in reports:
        print(report.line())
    return EXIT_OK if all(report.ok for report in reports) else EXIT_FAILED


def cmd_export(config: Config, args: argparse.Namespace) -> int:
    from feedsvc.publish.follow import export_all, follow

    if args.follow:
        with contextlib.suppress(KeyboardInterrupt):
            follow(config)
        return EXIT_OK
    print(f"{config.publish.directory}: {export_all(config)} feeds written")
    return EXIT_OK


def cmd_import_db(config: Config, args: argparse.Namespace) -> int:
    from feedsvc.jobs.cycle import prepare
    from feedsvc.store import Store, open_store

    status = _copy_store(Store(args.source), open_store(config.service))
    if status == EXIT_OK:
        prepare(config)  # render every feed from the copied rows, write the files
    return status


def cmd_export_db(config: Config, args: argparse.Namespace) -> int:
    from feedsvc.store import Store, open_store

    return _copy_store(open_store(config.service), Store(args.target))


def _copy_store(source: Store, target: Store) -> int:
    """Copy one store into another and say what was copied (rows per table)."""
    from feedsvc.store.transfer import TargetNotEmpty, copy_store

    try:
        counts = copy_store(source, target)
    except TargetNotEmpty as exc:
        print(f"feedsvc: {exc}; copy into an empty database", file=sys.stderr)
        return EXIT_FAILED
    finally:
        source.close()
        target.close()
    print(" ".join(f"{table}={rows}" for table, rows in counts.items()))
    return EXIT_OK


def cmd_check(config: Config, args: argparse.Namespace) -> int:
    sources = sum(len(topic.sources) for topic in config.topics)
    print(f"{config.path}: OK: {len(config.topics)} topics, {sources} sources")
    for topic in config.topics:
        for source in topic.sources:
            preset = f" (preset {source.preset})" if source.preset else ""
            print(f"  {topic.slug}: {source.url}{preset}")
    return check_fetch(config) if args.fetch else EXIT_OK


def cmd_status(config: Config, args: argparse.Namespace) -> int:
    from feedsvc.store import open_store

    store = open_store(config.service)
    store.create_schema()
    statuses = {(s.topic, s.url): s for s in store.sources()}
    leader = store.leader()
    store.close()
    failing = False
    for topic in config.topics:
        for source in topic.sources:
            status = statuses.get((topic.slug, source.url))
            if status is None or status.last_attempt_at is None:
                print(f"{topic.slug} {source.url}: never ingested")
                continue
            failing |= status.last_error is not None
            state = "FAILING" if status.last_error else "ok"
            print(
                f"{topic.slug} {source.url}: {state} last_attempt={_when(status.last_attempt_at)} "
                f"last_success={_when(status.last_success_at)} "
                f"items_on_page={status.items_on_page} items_found={status.items_found}"
                + (
                    f" failing_since={_when(status.failing_since)} error={status.last_error}"
                    if status.last_error
                    else ""
                )
                + (
                    f" last_undated={_when(status.last_undated_at)} {status.last_undated_text}"
                    if status.last_undated_text
                    else ""
                )
            )
    print(
        f"scheduler: leader={leader.holder} since={_when(leader.since)}"
        if leader
        else "scheduler: no leader yet"
    )
    return EXIT_FAILED if failing else EXIT_OK


def _when(value: datetime | None) -> str:
    return value.isoformat() if value else "never"


COMMANDS = {
    "serve": cmd_serve,
    "schedule": cmd_schedule,
    "migrate": cmd_migrate,
    "ingest": cmd_ingest,
    "export": cmd_export,
    "import-db": cmd_import_db,
    "export-db": cmd_export_db,
    "check": cmd_check,
    "status": cmd_status,
    "discover": cmd_discover,
    "demo": cmd_demo,
    "preview": cmd_preview,
    "hide": cmd_hide,
    "unhide": cmd_unhide,
    "items": cmd_items,
    "history": cmd_history,
    "backfill": cmd_backfill,
}

if __name__ == "__main__":
    sys.exit(main())
