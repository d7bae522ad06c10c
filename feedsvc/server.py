"""Run the web app under gunicorn, with the scheduler in a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from gunicorn.app.base import BaseApplication

from feedsvc.config import Config


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


def feedsvc_command(config: Config, *args: str) -> list[str]:
    """The command line of another feedsvc command on the same config."""
    return [sys.executable, "-m", "feedsvc.cli", "--config", str(config.path), *args]


def start_scheduler(config: Config) -> subprocess.Popen:
    """`feedsvc schedule` as a child process: one scheduler, never one per web worker."""
    return subprocess.Popen(feedsvc_command(config, "schedule"))


def serve(config: Config, *, host: str, port: int, workers: int, scheduler: bool) -> None:
    """Serve until stopped, with the scheduler process beside gunicorn when asked for."""
    # Once, before workers start: they only read. In a child process, so the master (and so
    # every forked worker) never loads the publisher's libraries.
    subprocess.run(feedsvc_command(config, "migrate"), check=True)
    child = start_scheduler(config) if scheduler else None
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": 8,
        "accesslog": config.service.access_log,  # None: no access log
        "errorlog": "-",
        "loglevel": "info",
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
