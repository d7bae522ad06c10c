"""`feedsvc serve` and `feedsvc schedule`: the long-running processes."""

from __future__ import annotations

import argparse
import contextlib

from feedsvc.cli.common import Command, Exit
from feedsvc.config import Config


def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to bind (default: [service] host)")
    parser.add_argument("--port", type=int, help="port to bind (default: [service] port)")
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: [service] workers)")
    parser.add_argument("--no-scheduler", action="store_true", help="serve only; ingest elsewhere")


def serve(config: Config, args: argparse.Namespace) -> int:
    """Become the gunicorn master (python -m feedsvc.cli.server); never returns."""
    from feedsvc.cli.server import exec_serve

    exec_serve(
        config,
        host=args.host or config.service.host,
        port=args.port or config.service.port,
        workers=args.workers or config.service.workers,
        scheduler=not args.no_scheduler,
        verbose=args.verbose,
    )


def schedule(config: Config, args: argparse.Namespace) -> int:
    """Run the scheduler in this process until stopped."""
    from feedsvc.jobs.schedule import run_scheduler

    with contextlib.suppress(KeyboardInterrupt):
        run_scheduler(config)
    return Exit.OK


COMMANDS = (
    Command(
        "serve",
        "serve feeds with gunicorn and run the scheduler",
        serve,
        _serve_arguments,
    ),
    Command(
        "schedule",
        "run only the scheduler (one per deployment; on PostgreSQL every host shares the ingest)",
        schedule,
    ),
)
