"""Run the web app under gunicorn, with the scheduler in a process of its own.

`feedsvc serve` replaces its own process with `python -m feedsvc.cli.server` (exec_serve):
gunicorn's workers fork from the master, and a master that imported only this module
and the config hands them nothing of what the command line loaded (the publisher,
SQLAlchemy, feedgen, lxml), which would otherwise count in every worker's memory.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from gunicorn.app.base import BaseApplication

from feedsvc.config import Config, load


class FeedsvcServer(BaseApplication):
    """gunicorn with our application factory; each worker builds its own app and store."""

    def __init__(self, config: Config, options: dict[str, Any]) -> None:
        self.config_obj = config
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # newer settings are skipped on older gunicorns
                self.cfg.set(key, value)

    def load(self) -> Any:
        from feedsvc.web import create_app

        return create_app(self.config_obj)


def feedsvc_command(config: Config, *args: str, verbose: bool = False) -> list[str]:
    """The command line of another feedsvc command on the same config."""
    command = [sys.executable, "-m", "feedsvc.cli", "--config", str(config.path)]
    return command + (["--verbose"] if verbose else []) + list(args)


def start_scheduler(config: Config, verbose: bool = False) -> subprocess.Popen:
    """`feedsvc schedule` as a child process: one scheduler, never one per web worker."""
    return subprocess.Popen(feedsvc_command(config, "schedule", verbose=verbose))


def serve(
    config: Config, *, host: str, port: int, workers: int, scheduler: bool, verbose: bool = False
) -> None:
    """Serve until stopped, with the scheduler process beside gunicorn when asked for.

    Quiet unless `verbose`: the store's migration in one line (or none), this line, and
    then one line per ingest from the scheduler; gunicorn's start-up lines only with it.
    """
    # Once, before workers start: they only read. In a child process, so the master (and so
    # every forked worker) never loads the publisher's libraries.
    subprocess.run(feedsvc_command(config, "migrate", verbose=verbose), check=True)
    child = start_scheduler(config, verbose) if scheduler else None
    with_scheduler = ", with the scheduler" if scheduler else ""
    print(
        f"feedsvc: serving http://{host}:{port}/ ({workers} workers{with_scheduler}); Ctrl-C stops",
        flush=True,
    )
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": 8,
        "accesslog": config.service.access_log,  # None: no access log
        "errorlog": "-",
        "loglevel": "info" if verbose else "warning",
        "timeout": 30,
        "graceful_timeout": 10,
        "proc_name": "feedsvc",
        "control_socket_disable": True,
    }
    master = os.getpid()
    try:
        FeedsvcServer(config, options).run()
    finally:
        # Forked workers leave run() through here too; only the master owns the scheduler.
        if child is not None and os.getpid() == master:
            child.terminate()
            child.wait(10)


def exec_serve(
    config: Config, *, host: str, port: int, workers: int, scheduler: bool, verbose: bool
) -> NoReturn:
    """Become `python -m feedsvc.cli.server` with these settings (same process id and group)."""
    command = [sys.executable, "-m", "feedsvc.cli.server", "--config", str(config.path)]
    command += ["--host", host, "--port", str(port), "--workers", str(workers)]
    command += [] if scheduler else ["--no-scheduler"]
    command += ["--verbose"] if verbose else []
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, command)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m feedsvc.cli.server`: what `feedsvc serve` becomes, once it checked the config."""
    parser = argparse.ArgumentParser(prog="python -m feedsvc.cli.server")
    parser.add_argument("--config", required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--no-scheduler", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    serve(
        load(Path(args.config)),
        host=args.host,
        port=args.port,
        workers=args.workers,
        scheduler=not args.no_scheduler,
        verbose=args.verbose,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
