"""Two topics whose pages hold the items the filtered-feed and search tests look for."""

from __future__ import annotations

from pathlib import Path

from feedsvc.config import Config
from feedsvc.fetch.client import make_fetcher
from feedsvc.jobs.cycle import run_cycle, targets
from feedsvc.store import Store
from tests.support.config import write_config
from tests.support.pages import PageServer

PAGES = Path(__file__).parent.parent / "fixtures" / "custom"
SELECTORS = """[topics.sources.selectors]
  item = "li.result"
  title = "h3"
  link = "h3 a"
  type = ".type"
  date = ".date"
  summary = ".summary"
  author = ".author\""""


def two_topics(folder: Path, server: PageServer, extra: str = "", database: str = "") -> Path:
    """security-cooperation and europe, each one fixture page served by `server`; `extra`
    lands in [ingest] (and may open further tables)."""
    pages = {}
    for topic, name in (("security-cooperation", "security.html"), ("europe", "europe.html")):
        server.serve(f"/{name}", (PAGES / name).read_bytes())
        pages[topic] = server.url(f"/{name}")
    return write_config(
        folder,
        pages,
        "min_items_ratio = 0\n" + extra,
        SELECTORS,
        database=database or "sqlite:///var/feedsvc.sqlite3",
        preset=None,
    )


def cycle(config: Config) -> None:
    """One ingest cycle over every source, as the scheduler runs it; every source must pass."""
    store = Store(config.service.database)
    fetcher = make_fetcher(config)
    try:
        for report in run_cycle(store, fetcher, config, targets(config)):
            assert report.ok, report.error
    finally:
        fetcher.close()
        store.close()
