"""Load: the real `feedsvc serve` (gunicorn) under bounded load while ingests run every few seconds.

    .venv/bin/python -m bench.load --seconds 60 --connections 200 --tool wrk

The run itself (the growing source, the checking clients, wrk) is tests/support/load.py,
which tests/test_faults_load.py also runs for a few seconds. Exits 1 when any request
failed or any ingest failed.
"""

from __future__ import annotations

import argparse
import shutil
import sys

from tests.support.load import run_load


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--ingest-seconds", type=float, default=3, help="pause between ingests")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--tool", choices=("auto", "wrk", "python"), default="auto")
    args = parser.parse_args()
    tool = args.tool if args.tool != "auto" else ("wrk" if shutil.which("wrk") else "python")
    result = run_load(
        seconds=args.seconds,
        connections=args.connections,
        ingest_seconds=args.ingest_seconds,
        tool=tool,
        workers=args.workers,
    )
    print("\n".join(result.lines()))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
