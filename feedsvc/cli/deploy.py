"""Deploying: `feedsvc migrate`, `export`, `import-db` and `export-db`."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import TYPE_CHECKING

from feedsvc.cli.common import Command, Exit, prepare_store
from feedsvc.config import Config

if TYPE_CHECKING:
    from feedsvc.store import Store


def migrate(config: Config, args: argparse.Namespace) -> int:
    """Create or upgrade the store and publish what was never rendered."""
    prepare_store(config)
    return Exit.OK


def _export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--follow",
        action="store_true",
        help="then rewrite changed feeds within seconds of any host's publish, until stopped",
    )


def export(config: Config, args: argparse.Namespace) -> int:
    """Write every kept feed into the publish directory, once or following every publish."""
    from feedsvc.publish.follow import export_all, follow

    if args.follow:
        with contextlib.suppress(KeyboardInterrupt):
            follow(config)
        return Exit.OK
    print(f"{config.publish.directory}: {export_all(config)} feeds written")
    return Exit.OK


def import_db(config: Config, args: argparse.Namespace) -> int:
    """Copy another store into this empty one, then render every feed from the copy."""
    from feedsvc.store import Store, open_store

    status = _copy_store(Store(args.source), open_store(config.service))
    if status == Exit.OK:
        prepare_store(config)
    return status


def export_db(config: Config, args: argparse.Namespace) -> int:
    """Copy this store into another, empty one."""
    from feedsvc.store import Store, open_store

    return _copy_store(open_store(config.service), Store(args.target))


def _copy_store(source: Store, target: Store) -> int:
    """Copy one store into another and say what was copied (rows per table)."""
    from feedsvc.store.transfer import TargetNotEmpty, copy_store

    try:
        counts = copy_store(source, target)
    except TargetNotEmpty as exc:
        print(f"feedsvc: {exc}; copy into an empty database", file=sys.stderr)
        return Exit.FAILED
    finally:
        source.close()
        target.close()
    print(" ".join(f"{table}={rows}" for table, rows in counts.items()))
    return Exit.OK


COMMANDS = (
    Command("migrate", "create or upgrade the store and publish what was never rendered", migrate),
    Command(
        "export",
        "write every kept feed into [publish] directory (one per host)",
        export,
        _export_arguments,
    ),
    Command(
        "import-db",
        "copy another store (e.g. the SQLite one) into this empty store",
        import_db,
        lambda parser: parser.add_argument(
            "source", metavar="URL", help="SQLAlchemy URL of the store to copy"
        ),
    ),
    Command(
        "export-db",
        "copy this store into another, empty one (e.g. PostgreSQL)",
        export_db,
        lambda parser: parser.add_argument(
            "target", metavar="URL", help="SQLAlchemy URL of the empty store"
        ),
    ),
)
