"""Measuring instruments: wrk runs, latency percentiles, worker memory, rows written."""

from __future__ import annotations

import re
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


@dataclass(frozen=True)
class Load:
    """What wrk measured: requests per second and latency percentiles in milliseconds."""

    rps: float
    p50_ms: float
    p99_ms: float
    bad: int


def wrk(url: str, seconds: int, headers: dict[str, str] | None = None) -> Load:
    """wrk -t2 -c50 for `seconds` against one URL; `bad` counts non-2xx/3xx answers and errors."""
    command = ["wrk", "-t2", "-c50", f"-d{seconds}s", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True, timeout=seconds + 30
    ).stdout
    bad = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    bad += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return Load(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        p50_ms=_latency(out, "50%"),
        p99_ms=_latency(out, "99%"),
        bad=bad,
    )


def _latency(out: str, percentile: str) -> float:
    value, unit = re.search(rf"{percentile}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return float(value) * UNITS[unit]


def timed(call: Callable[[], object], before: Callable[[], object] | None = None) -> float:
    """Milliseconds one call takes; `before` runs first, outside the measurement."""
    if before:
        before()
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1e3


def percentile(samples: list[float], fraction: float) -> float:
    """The nearest-rank percentile of some samples."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]


def children(pid: int) -> list[int]:
    """The direct children of a process (gunicorn's workers), from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@contextmanager
def rows_written(engine: Engine) -> Iterator[Counter]:
    """Count the rows each INSERT, UPDATE and DELETE changed, by table, while inside."""
    counts: Counter = Counter()

    def count(conn, cursor, statement: str, parameters, context, executemany: bool) -> None:
        match = re.match(r"\s*(INSERT INTO|UPDATE|DELETE FROM)\s+\"?(\w+)", statement, re.I)
        if match and cursor.rowcount > 0:
            counts[match.group(2)] += cursor.rowcount

    event.listen(engine, "after_cursor_execute", count)
    try:
        yield counts
    finally:
        event.remove(engine, "after_cursor_execute", count)
