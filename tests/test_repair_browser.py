"""A repair of a `fetch = "browser"` source whose `wait_for` names the old markup: the app's
bundle is redesigned, the scheduled run times out waiting, reads the page again without
waiting and repairs it (auto_repair = "apply"); `feedsvc repair --apply` reads it the same
way. Either repair waits for the new items from then on, and finds every stored item."""

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
    config = browser_config(
        tmp_path,
        server.url("/publications"),
        SOURCE,
        'auto_repair = "apply"\nbrowser_timeout_seconds = 2\n',
    )
    prepare(config)
    store = Store(config.service.database)
    fetcher = make_fetcher(config)
    source = config.topics[0].sources[0]
    try:
        [report] = run_cycle(store, fetcher, config, targets(config))
        assert report.new == 3, report.line()
        server.serve(BUNDLE, (Path(__file__).parent / "fixtures/repair/app-v2.js").read_bytes(),
                     headers=JS)  # fmt: skip
        [again] = run_cycle(store, fetcher, config, targets(config))
        assert (again.outcome, again.new, again.unchanged) == ("repaired", 0, 3), again.line()
        repaired = in_force(store, TOPIC, source, datetime.now(UTC))
        assert repaired.selectors.item == "article.card"
        assert repaired.wait_for == "article.card"  # not the old markup
        [third] = run_cycle(store, fetcher, config, targets(config))
        assert third.ok and third.new == 0, third.line()

        arguments = ["--config", str(config.path), "repair", "--topic", TOPIC]
        assert main([*arguments, "--undo"]) == 0
        capsys.readouterr()
        assert main([*arguments, "--apply"]) == 0  # reads the page without waiting, too
        assert "preview: 3 recognised (=), 0 new (+), 0 lost (-)" in capsys.readouterr().out
        assert in_force(store, TOPIC, source, datetime.now(UTC)).wait_for == "article.card"
    finally:
        fetcher.close()
        store.close()
