"""Markup families as real sites write them, each a golden pair run through a real ingest.

tests/fixtures/families/NAME.html is served by a real HTTP server on 127.0.0.1 and
ingested with the source keys in NAME.expected.json (`source`, TOML); every listed
item must come out with exactly the listed fields (`{base}` is the server), and
nothing else. `undated` and `undated_text` check what the ingest line, /healthz and
`feedsvc status` report about dates that were not dates.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, PageServer, write_config

from feedsvc.config import load
from feedsvc.fetch.client import make_fetcher
from feedsvc.jobs.cycle import prepare, run_cycle, targets
from feedsvc.keys import FeedKey
from feedsvc.store import Store
from feedsvc.web import create_app

FAMILIES = FIXTURES / "families"
CASES = sorted(path.stem for path in FAMILIES.glob("*.html"))
FIELDS = {
    "guid": "guid",
    "title": "title",
    "type": "type_slug",
    "type_label": "type_label",
    "summary": "summary_text",
    "image_url": "image_url",
    "image_caption": "image_caption",
    "image_credit": "image_credit",
    "author": "author",
}


@pytest.mark.parametrize("name", CASES)
def test_a_markup_family_gives_its_golden_items(
    name: str, tmp_path: Path, server: PageServer
) -> None:
    config_path, expect = family_config(tmp_path, server, name)
    path = f"/listing/{name}.html"
    config = load(config_path)
    prepare(config)
    store = Store(config.service.database)
    fetcher = make_fetcher(config)
    [report] = run_cycle(store, fetcher, config, targets(config))
    fetcher.close()

    assert report.ok, report.error
    assert report.skipped == 0
    assert report.undated == expect.get("undated", 0)
    stored = {item.guid: item for item in store.entries(FeedKey(topic="security-cooperation"), 500)}
    wanted = [{k: fill(v, server) for k, v in item.items()} for item in expect["items"]]
    assert sorted(stored) == sorted(item.get("guid", item["link"]) for item in wanted)
    for want in wanted:
        item = stored[want.get("guid", want["link"])]
        assert item.link == want["link"]
        for key, attribute in FIELDS.items():
            if key in want:
                assert getattr(item, attribute) == want[key], (item.title, key)
        if "published" in want:
            if want["published"] is None:
                assert item.published == item.first_seen, item.title
            else:
                assert item.published.isoformat() == want["published"], item.title

    status = store.source("security-cooperation", server.url(path))
    health = create_app(config).test_client().get("/healthz").get_json()
    [source_health] = health["sources"]
    if "undated_text" in expect:
        assert report.line().endswith(f"undated={expect['undated']}")
        assert status.last_undated_text.startswith(expect["undated_text"])
        assert source_health["last_undated_text"] == status.last_undated_text
        cli = subprocess.run(
            [sys.executable, "-m", "feedsvc.cli", "--config", str(config_path), "status"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cli.returncode == 0, cli.stderr
        assert (
            f"last_undated={status.last_undated_at.isoformat()} {status.last_undated_text}"
            in cli.stdout
        )
    else:
        assert status.last_undated_text is None and "undated=" not in report.line()


def family_config(tmp_path: Path, server: PageServer, name: str) -> tuple[Path, dict]:
    """A config whose one source is the family's page, served, with its golden source keys."""
    expect = json.loads((FAMILIES / f"{name}.expected.json").read_text(encoding="utf-8"))
    path = f"/listing/{name}.html"
    server.serve(path, (FAMILIES / f"{name}.html").read_bytes())
    config_path = write_config(tmp_path, server.url(path))
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace('preset = "rand-topic"', expect["source"]), "utf-8")
    return config_path, expect


def fill(value: object, server: PageServer) -> object:
    return value.replace("{base}", server.base) if isinstance(value, str) else value
