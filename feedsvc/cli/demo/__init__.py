"""`feedsvc demo`: a first run that shows the product, offline (the work is in `run`).

The two captures of the institute's topic page it serves ship in this folder.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from feedsvc.cli.common import Command


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8000, help="port of the feeds (default: 8000)")
    parser.add_argument(
        "--directory", default="var/demo", help="where the demo writes (default: var/demo)"
    )


def _demo(config: None, args: argparse.Namespace) -> int:
    """Serve the bundled captures, ingest them and serve the feeds, until stopped."""
    from feedsvc.cli.demo.run import run_demo

    return run_demo(Path(args.directory), args.port, verbose=args.verbose)


DEMO = Command(
    "demo",
    "serve the bundled captures from 127.0.0.1, ingest them and serve the feeds",
    _demo,
    _arguments,
    config="none",
)
