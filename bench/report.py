"""The benchmark table: rows beside their same-run baselines, and docs/benchmarks.md rewritten."""

from __future__ import annotations

import argparse
import os
import platform
import re
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from bench.measure import Load
from tests.support.servers import REPO

SECTIONS = ("ingest", "render", "app", "static", "memory", "latency", "browser")

DOC = REPO / "docs" / "benchmarks.md"
BEGIN = "<!-- bench:begin: `make bench` rewrites everything from here to bench:end -->"
END = "<!-- bench:end -->"


@dataclass(frozen=True)
class Row:
    """One figure of the table, with its baseline from the same run and its target."""

    section: str
    what: str
    value: float
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    target: str = ""
    met: bool | None = None
    load: Load | None = None  # a wrk row: its latencies, and its baseline's
    baseline_load: Load | None = None

    @property
    def ratio(self) -> float | None:
        return self.value / self.baseline_value if self.baseline_value else None

    def cells(self) -> list[str]:
        base = f"{self.baseline}: {_num(self.baseline_value)} {self.unit}" if self.baseline else ""
        ratio = f"{self.ratio:.2f}x" if self.ratio is not None else ""
        met = {True: "yes", False: "**no**", None: ""}[self.met]
        value = f"{_num(self.value)} {self.unit}"
        return [self.section, self.what, value, base, ratio, self.target, met, self._latency()]

    def _latency(self) -> str:
        """p50 / p99 in ms beside a requests-per-second figure (and its baseline's)."""
        if self.load is None:
            return ""
        text = f"{self.load.p50_ms:.2f} / {self.load.p99_ms:.2f}"
        if self.baseline_load is not None:
            text += f" (baseline {self.baseline_load.p50_ms:.2f} / {self.baseline_load.p99_ms:.2f})"
        return text


class Report:
    """The rows measured so far, printed as one Markdown table."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.plans = ""

    def add(self, row: Row) -> None:
        self.rows.append(row)
        print(" | ".join(row.cells()), flush=True)

    def at_least(
        self, section: str, what: str, value: float, unit: str, base, floor: float, **loads: Load
    ) -> None:
        """A row whose ratio to its baseline must be `floor` or more."""
        name, base_value = base
        met = value / base_value >= floor
        self.add(Row(section, what, value, unit, name, base_value, f"≥ {floor}x", met, **loads))

    def at_most(
        self, section: str, what: str, value: float, unit: str, base, ceiling: float, **loads: Load
    ) -> None:
        """A row whose ratio to its baseline must be `ceiling` or less."""
        name, base_value = base
        met = value / base_value <= ceiling
        self.add(Row(section, what, value, unit, name, base_value, f"≤ {ceiling}x", met, **loads))

    def table(self) -> str:
        head = ["Part", "Measure", "Value", "Baseline (same run)", "Ratio", "Target", "Met"]
        head.append("p50 / p99 ms")
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(row.cells()) + " |" for row in self.rows]
        return "\n".join(lines)


def write_doc(report: Report, minutes: float, args: argparse.Namespace) -> None:
    """Replace the generated part of docs/benchmarks.md, keeping everything around it."""
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        raise RuntimeError(f"{DOC}: the markers {BEGIN!r} and {END!r} are missing")
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    missed = [row for row in report.rows if row.met is False]
    verdict = (
        "Every target met."
        if not missed
        else "Targets missed: " + "; ".join(f"{r.what} ({r.ratio or r.value:.2f})" for r in missed)
    )
    body = f"""
Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC in {minutes:.1f} minutes. {verdict}

{report.table()}

SQLite's plan for each feed's newest entries at the largest size (a search through an
index, then rows by primary key; the only sort is of the `limit` rows found):

{report.plans}

**Machine.** {_machine()}

**Versions.** {_versions()}

**Commands.** `make bench` (= `.venv/bin/python -m bench.run --seconds {args.seconds}`; one part:
`--only {{{",".join(SECTIONS)}}}`, which prints and leaves this file alone), which runs:
- `wrk -t2 -c50 -d{args.seconds}s --latency [-H 'If-None-Match: <etag>'] <url>`, each pair
  baseline-then-subject, twice: requests per second and p50 / p99 of the run with more
  requests per second; the p99 rows compare the lower p99 of the two runs on each side;
- `feedsvc serve --workers 2 --no-scheduler` with the bench's config (no `access_log` key:
  the default) and again with `access_log = "-"`; the floor is
  `python -m gunicorn --workers 2 --worker-class gthread --threads 8
  'bench.constant_app:create_app()'`, gunicorn's settings as `feedsvc serve` sets them;
- `nginx` with `deploy/nginx.conf` (ADJUST lines pointed at the bench folders, 2 workers,
  `sendfile on; tcp_nopush on;` as Debian's nginx.conf, `access_log off`) plus a bare
  `server {{ root ...; }}` serving a copy of the same file.
"""
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(head + BEGIN + "\n" + body + "\n" + END + tail, encoding="utf-8")
    print(f"bench: wrote {DOC.relative_to(REPO)}")


def _machine() -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    memory = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    return f"{cpu}, {os.cpu_count()} CPUs, {memory:.0f} GB RAM, {platform.platform()}"


def _versions() -> str:
    packages = ", ".join(
        f"{name} {version(name)}"
        for name in ("Flask", "Werkzeug", "gunicorn", "SQLAlchemy", "feedgen")
    )
    tools = [_tool_version(["nginx", "-v"]), _tool_version(["wrk", "-v"])]
    return (
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, {packages}, "
        + ", ".join(tools)
    )


def _tool_version(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    return (done.stderr + done.stdout).strip().splitlines()[0].replace("nginx version: ", "")


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"


def write_section(name: str, heading: str, text: str) -> None:
    """Replace the section between the `name` markers of docs/benchmarks.md (a benchmark
    run on its own: bench-cluster, bench-ingest); added at the end under `heading` if missing."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    doc = DOC.read_text(encoding="utf-8")
    section = f"{begin}\n\n{text}\n{end}"
    if begin in doc:
        doc = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: section, doc, flags=re.S)
    else:
        doc = doc.rstrip() + f"\n\n## {heading}\n\n" + section + "\n"
    DOC.write_text(doc, encoding="utf-8")
    print(f"bench: wrote {DOC.relative_to(REPO)} ({name})")
