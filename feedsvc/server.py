"""Run the web app under gunicorn, with the scheduler in a process of its own."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
from typing import Any

from gunicorn.app.base import BaseApplication

from feedsvc.config import Config, load
from feedsvc.schedule import run_scheduler

log = logging.getLogger(__name__)


class FeedsvcServer(BaseApplication):
    """gunicorn with our application factory; each worker builds its own app and store."""

    def __init__(self, config: Config, options: dict[str, Any]) -> None:
        self.config_obj = config
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from feedsvc.web import create_app

        return create_app(self.config_obj)


def _scheduler_main(config_path: str) -> None:
    """Entry point of the scheduler process; it reloads the config so nothing crosses the fork."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with contextlib.suppress(KeyboardInterrupt):
        run_scheduler(load(config_path))


def serve(config: Config, *, host: str, port: int, workers: int, scheduler: bool) -> None:
    """Serve until stopped; the scheduler process (one per deployment, by file lock) runs beside."""
    process = None
    if scheduler:
        process = multiprocessing.get_context("spawn").Process(
            target=_scheduler_main, args=(str(config.path),), name="feedsvc-scheduler", daemon=True
        )
        process.start()
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": 8,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "info",
        "timeout": 30,
        "graceful_timeout": 10,
        "proc_name": "feedsvc",
    }
    try:
        FeedsvcServer(config, options).run()
    finally:
        if process is not None and process.is_alive():
            process.terminate()
            process.join(5)
