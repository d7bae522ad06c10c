"""A repair of a `fetch = "browser"` source: the app's bundle is redesigned, `feedsvc repair`
reads the rendered page (not waiting for the old markup), and the repaired block is in
force with `wait_for` on the new items: the next run finds every stored item again."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import PageServer
from test_browser_fetch import JS, JSON, TOPIC, browser_config
from test_browser_fetch import fixture as browser_fixture
from test_browser_fetch import pytestmark as browser_marks

from feedsvc.cli.main import main
from feedsvc.fetch.client import make_fetcher
from feedsvc.ingest.repairs import in_force
from feedsvc.jobs.cycle import prepare, run_cycle, targets
from feedsvc.store import Store

pytestmark = browser_marks
BUNDLE = "/static/js/main.8c1f2e7a.js"
SOURCE = """
  wait_for = "li.publication"
  [topics.sources.selectors]
  item = "li.publication"
  title = "a.publication__link"
  link = { css = "a.publication__link", attr = "href" }
  date = ".publication__date"
  summary = ".publication__excerpt"
"""


def test_a_redesigned_app_is_repaired_through_the_browser(
    tmp_path: Path, server: PageServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.serve("/publications", browser_fixture("react-shell.html"))
    server.serve(BUNDLE, browser_fixture("react-main.js"), headers=JS)
    server.serve("/wp-json/wp/v2/posts?per_page=3", browser_fixture("wp-posts.json"), headers=JSON)
    config = browser_config(tmp_path, server.url("/publications"), SOURCE)
    prepare(config)
    store = Store(config.service.database)
    fetcher = make_fetcher(config)
    try:
        [report] = run_cycle(store, fetcher, config, targets(config))
        assert report.new == 3, report.line()
        server.serve(BUNDLE, (Path(__file__).parent / "fixtures/repair/app-v2.js").read_bytes(),
                     headers=JS)  # fmt: skip
        capsys.readouterr()
        assert main(["--config", str(config.path), "repair", "--topic", TOPIC, "--apply"]) == 0
        assert "preview: 3 recognised (=), 0 new (+), 0 lost (-)" in capsys.readouterr().out
        source = config.topics[0].sources[0]
        repaired = in_force(store, TOPIC, source, datetime.now(UTC))
        assert repaired.selectors.item == "article.card"
        assert repaired.wait_for == "article.card"  # not the old markup
        [again] = run_cycle(store, fetcher, config, targets(config))
        assert (again.outcome, again.new, again.unchanged) == ("reextracted", 0, 3), again.line()
    finally:
        fetcher.close()
        store.close()
