"""The walk on every markup family in docs/adding-a-site.md: real output, made again.

Each fixture page is served on 127.0.0.1; `feedsvc discover` runs on it, its block is pasted
under a `[[topics]]` with `slug = "found"`, then `preview`, `check --fetch` and `ingest`
run on that config, each as a user runs it. `make docs` rewrites the section with this
output; tests/test_docs.py fails when the section differs from it.

    python -m tests.support.walk docs/adding-a-site.md [--check]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from feedsvc.cli.reference import regenerate
from tests.support.config import FAST_INGEST
from tests.support.pages import PageServer

ROOT = Path(__file__).resolve().parents[2]
HEADING = "## The walk on every markup family"
FAMILIES = (
    "tests/fixtures/pages/rand-2015.html",
    "tests/fixtures/pages/rand-2024.html",
    "tests/fixtures/pages/other-site.html",
    "tests/fixtures/discover/carousel-js-dates.html",
    "tests/fixtures/discover/drupal-teasers.html",
    "tests/fixtures/discover/institute-2018.html",
    "tests/fixtures/discover/institute-2023-aem.html",
    "tests/fixtures/discover/wordpress-list.html",
)
INTRO = f"""{HEADING}

Real output of `feedsvc discover`, `preview`, `check --fetch` and `ingest` on one fixture page of
each markup family the tests hold, each served by the tests' page server on 127.0.0.1
(the port shown as PORT). The discovered block is pasted unchanged under a `[[topics]]`
with `slug = "found"`. Made by `make docs` (`tests/support/walk.py`); a test fails when
this section is not what the commands print today.
"""
CONFIG = f"""[service]
database = "sqlite:///feedsvc.sqlite3"
base_url = "http://127.0.0.1:8000"

[ingest]
{FAST_INGEST}
[[topics]]
slug = "found"
title = "Found"

"""


def walk() -> str:
    """The whole section, every family's four commands with their output and exit status."""
    server = PageServer()
    try:
        parts = [INTRO]
        for fixture in FAMILIES:
            name = Path(fixture).stem
            path = f"/{name}/listing"
            server.serve(path, (ROOT / fixture).read_bytes())
            transcript = _family(server.url(path)).replace(server.base, "http://127.0.0.1:PORT")
            parts.append(f"### {name} (`{fixture}`)\n\n```\n{transcript}```\n")
        return "\n".join(parts)
    finally:
        server.close()


def _family(url: str) -> str:
    """discover, then preview, check --fetch and ingest on the block it proposed."""
    with tempfile.TemporaryDirectory() as directory:
        cwd = Path(directory)
        block, discovered = _run(cwd, "discover", url)
        (cwd / "config.toml").write_text(CONFIG + block, encoding="utf-8")
        followed = [
            ("preview", "--topic", "found"),
            ("check", "--fetch"),
            ("ingest", "--topic", "found"),
        ]
        return "\n".join([discovered] + [_run(cwd, *args)[1] for args in followed])


def _run(cwd: Path, *args: str) -> tuple[str, str]:
    """A command's stdout, and its transcript: the command line, what it printed, its exit."""
    result = subprocess.run(
        [sys.executable, "-m", "feedsvc.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    printed = result.stdout + result.stderr
    if printed and not printed.endswith("\n"):
        printed += "\n"
    return result.stdout, f"$ feedsvc {' '.join(args)}\n{printed}[exit {result.returncode}]\n"


def with_walk(document: str) -> str:
    """The document with its walk section (the last one) made again."""
    head, heading, _ = document.partition(HEADING)
    if not heading:
        raise ValueError(f"no {HEADING!r} section")
    return head + walk()


def main(argv: Sequence[str] | None = None) -> int:
    return regenerate(argv, "python -m tests.support.walk", with_walk)


if __name__ == "__main__":
    sys.exit(main())
