"""The one writer of config.toml files for tests, the load script and the benchmarks."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

# Politeness that costs no time: no pause between requests, retries almost at once.
# No image probes: fixture pages link images on other hosts (tests/test_consumers.py probes).
FAST_INGEST = "host_delay_seconds = 0\nbackoff_seconds = 0.01\nimage_probes_per_run = 0\n"
TOPIC = "security-cooperation"


def write_config(
    folder: Path,
    source_url: str | Mapping[str, str],
    extra: str = "",
    source_extra: str = "",
    *,
    base_url: str = "http://feeds.test",
    database: str = "sqlite:///var/feedsvc.sqlite3",
    preset: str | None = "rand-topic",
) -> Path:
    """A real config.toml in `folder` whose topics read their pages with `preset` (None:
    the selectors `source_extra` gives).

    `source_url` is one page (the topic "security-cooperation") or a mapping of topic slugs
    to pages; `extra` lands in [ingest] (and may open further tables), `source_extra` in
    every [[topics.sources]].
    """
    sources = {TOPIC: source_url} if isinstance(source_url, str) else source_url
    topics = "".join(
        f"""
[[topics]]
slug = "{slug}"
title = "{slug.replace("-", " ").title()}"

  [[topics.sources]]
  url = "{url}"
  {f'preset = "{preset}"' if preset else ""}
  {source_extra}
"""
        for slug, url in sources.items()
    )
    path = folder / "config.toml"
    path.write_text(
        f"""
[service]
database = "{database}"
base_url = "{base_url}"

[ingest]
interval_minutes = 30
timeout_seconds = 5
{FAST_INGEST}{extra}{topics}""",
        encoding="utf-8",
    )
    return path
