"""A redesign end to end: a topic served on 127.0.0.1, ingested, then its page switched to the
redesign with two new items. With auto_repair = "apply" the next scheduled run stores exactly
the two new items and the feed keeps every old guid; with "propose" nothing changes until
`feedsvc repair --apply`; --show, --undo and a config edit (the config wins) work; /status,
`feedsvc status`, /healthz and /metrics show the repair."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from conftest import PageServer
from prometheus_client.parser import text_string_to_metric_families

from feedsvc.cli.main import main
from feedsvc.config import Config, load
from feedsvc.jobs.cycle import prepare
from feedsvc.jobs.schedule import ingest_job
from feedsvc.keys import FeedKey
from feedsvc.store import Store
from feedsvc.web import create_app
from tests.support.config import TOPIC, write_config

FIXTURES = Path(__file__).parent / "fixtures" / "repair"
SQLITE = "sqlite:///var/feedsvc.sqlite3"
JSON = {"Content-Type": "application/json"}
OLD_SELECTORS = """
  [topics.sources.selectors]
  item = "ul.post-list > li.post"
  title = "h2.post-title"
  link = "h2.post-title a"
  date = "span.post-date"
  type = "span.post-type"
  summary = "p.post-excerpt"
"""
NEW_ITEMS = """  <li class="c-teaser c-teaser--small">
    <h2 class="c-teaser__heading"><a class="c-teaser__link" href="/pubs/commentary/2015/04/a-new-alliance.html">A New Alliance for a New Decade</a></h2>
    <span class="c-teaser__meta">Apr 2, 2015</span> <span class="c-teaser__kind">Commentary</span>
    <p class="c-teaser__text">What the next decade asks of old partners, and what they can give.</p>
  </li>
  <li class="c-teaser c-teaser--small">
    <h2 class="c-teaser__heading"><a class="c-teaser__link" href="/pubs/research_reports/RR1400.html">Sharing the Burden: Partner Budgets in 2015</a></h2>
    <span class="c-teaser__meta">Mar 30, 2015</span> <span class="c-teaser__kind">Report</span>
    <p class="c-teaser__text">Eight partners' budget lines, read side by side for the first time.</p>
  </li>
"""
NEW_LINKS = {
    "/pubs/commentary/2015/04/a-new-alliance.html",
    "/pubs/research_reports/RR1400.html",
}
BEFORE = (FIXTURES / "classes-renamed.before.html").read_bytes()
REDESIGNED = (
    (FIXTURES / "classes-renamed.after.html")
    .read_text(encoding="utf-8")
    .replace('<ul class="c-list">\n', f'<ul class="c-list">\n{NEW_ITEMS}', 1)
    .encode()
)


@pytest.fixture(scope="module")
def site() -> Iterator[PageServer]:
    """One server for the module; each test serves its own path."""
    server = PageServer()
    yield server
    server.close()


def topic_config(
    folder: Path, url: str, mode: str, selectors: str = OLD_SELECTORS, database: str = SQLITE
) -> Config:
    """The topic's config; its own selectors follow the source's keys."""
    extra = f'auto_repair = "{mode}"\n'
    return load(write_config(folder, url, extra, selectors, preset=None, database=database))


def run(config: Config) -> None:
    """What the scheduler runs for the topic's source."""
    store = Store(config.service.database)
    try:
        topic = config.topics[0]
        ingest_job(store, config, topic, topic.sources[0])
    finally:
        store.close()


def feed_guids(config: Config) -> list[str]:
    """The guids of the topic's published Atom feed, as a feed reader reads them."""
    url = FeedKey(topic=TOPIC).url(config.service.base_url, "atom")
    body = create_app(config).test_client().get(url.removeprefix(config.service.base_url)).data
    return [entry.id for entry in feedparser.parse(body).entries]


def state(config: Config) -> tuple[list, list, object]:
    """The source's last runs, the logged actions, and its repair."""
    store = Store(config.service.database)
    try:
        url = config.topics[0].sources[0].url
        return (
            store.recent_runs(TOPIC, url, 5),
            store.operator_actions(),
            store.source_repair(TOPIC, url),
        )
    finally:
        store.close()


def cli(config: Config, *arguments: str) -> int:
    return main(["--config", str(config.path), *arguments])


def ingested(
    tmp_path: Path, site: PageServer, path: str, mode: str, database: str = SQLITE
) -> tuple[Config, list[str]]:
    """A topic ingested from the old page, then switched to the redesign: its old guids."""
    site.serve(path, BEFORE)
    config = topic_config(tmp_path, site.url(path), mode, database=database)
    prepare(config)
    run(config)
    old = feed_guids(config)
    assert len(old) == 8
    site.serve(path, REDESIGNED)
    return config, old


@pytest.mark.both_databases
def test_auto_repair_apply_stores_exactly_the_new_items(
    tmp_path: Path, site: PageServer, database_url: str
) -> None:
    config, old = ingested(
        tmp_path, site, f"/apply/{database_url[:5]}/news/", "apply", database_url
    )
    run(config)
    runs, actions, repair = state(config)
    assert (runs[0].outcome, runs[0].new_items) == ("repaired", 2)
    guids = feed_guids(config)
    assert [guid for guid in guids if guid in old] == old and len(guids) == 10  # same places
    assert {guid.removeprefix(site.url("")) for guid in set(guids) - set(old)} == NEW_LINKS
    assert repair is not None and repair.state == "applied" and repair.recognised == 8
    assert actions[-1].action == "repair-apply"
    health = create_app(config).test_client().get("/healthz").get_json()
    assert health["sources"][0]["repair"] == {"state": "applied", "since": repair.since.isoformat()}
    assert health["sources"][0]["state"] == "ok"
    run(config)  # the repaired selectors stay in force: nothing new, nothing re-extracted
    runs, _, _ = state(config)
    assert runs[0].outcome in ("same-bytes", "not-modified")
    assert feed_guids(config) == guids


def test_propose_changes_nothing_until_repair_apply(
    tmp_path: Path, site: PageServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config, old = ingested(tmp_path, site, "/propose/news/", "propose")
    run(config)
    run(config)
    runs, _, repair = state(config)
    assert [r.outcome for r in runs[:2]] == ["error", "error"] and feed_guids(config) == old
    assert repair is not None and repair.state == "proposed"
    app = create_app(config).test_client()
    health = app.get("/healthz").get_json()["sources"][0]
    assert (
        health["repair"]["state"] == "proposed" and "a repair is proposed" in health["last_error"]
    )
    metrics = {
        (sample.labels["state"], sample.value)
        for family in text_string_to_metric_families(app.get("/metrics").get_data(as_text=True))
        for sample in family.samples
        if sample.name == "feedsvc_source_repair"
    }
    assert metrics == {("proposed", 1.0), ("applied", 0.0)}
    assert "proposed since" in app.get("/status").get_data(as_text=True)
    capsys.readouterr()
    assert cli(config, "status") == 1
    assert "repair=proposed" in capsys.readouterr().out

    assert cli(config, "repair", "--topic", TOPIC) == 0  # shows, changes nothing
    shown = capsys.readouterr().out
    assert 'item = "li.c-teaser.c-teaser--small"' in shown
    assert '-item = "ul.post-list > li.post"' in shown  # the diff against the config's
    assert "preview: 8 recognised (=), 2 new (+), 0 lost (-)" in shown
    assert feed_guids(config) == old

    assert cli(config, "repair", "--topic", TOPIC, "--apply") == 0
    capsys.readouterr()
    assert cli(config, "check", "--fetch") == 0  # preview and check read the repaired block
    assert f"{TOPIC}:1 {config.topics[0].sources[0].url}: 10 items" in capsys.readouterr().out
    run(config)
    runs, actions, repair = state(config)
    assert (runs[0].outcome, runs[0].new_items) == ("reextracted", 2)
    assert repair is not None and repair.state == "applied"
    assert "repair-apply" in [action.action for action in actions]
    guids = feed_guids(config)
    assert set(old) <= set(guids) and len(guids) == 10

    capsys.readouterr()
    assert cli(config, "repair", "--topic", TOPIC, "--show") == 0
    block = capsys.readouterr().out  # ready to paste: every line is TOML
    pasted = tomllib.loads(block)["topics"]["sources"]["selectors"]
    assert pasted["link"] == "a.c-teaser__link"

    assert cli(config, "repair", "--topic", TOPIC, "--undo") == 0
    assert state(config)[2] is None
    run(config)  # the config's selectors again: the redesigned page is refused, nothing lost
    runs, _, repair = state(config)
    assert runs[0].outcome == "error" and feed_guids(config) == guids
    assert repair is not None and repair.state == "proposed"  # found again, proposed again

    # The operator pastes the block into config.toml: the config wins, the repair is dropped.
    edited = topic_config(tmp_path, config.topics[0].sources[0].url, "propose", block)
    run(edited)
    runs, actions, repair = state(edited)
    assert repair is None and actions[-1].action == "repair-drop"
    assert "config wins" in actions[-1].detail
    # the items were stored with exactly these selectors: the page is as it was, no error
    assert runs[0].outcome in ("same-bytes", "not-modified")
    assert feed_guids(edited) == guids


def test_a_page_that_cannot_be_repaired_says_so(
    tmp_path: Path, site: PageServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config, old = ingested(tmp_path, site, "/gone/news/", "apply")
    site.serve("/gone/news/", (FIXTURES / "list-gone.after.html").read_bytes())
    run(config)
    runs, _, repair = state(config)
    assert runs[0].outcome == "error" and repair is None and feed_guids(config) == old
    capsys.readouterr()
    assert cli(config, "repair", "--topic", TOPIC) == 1
    assert "cannot repair: the page links none of the 8 stored items" in capsys.readouterr().err


def test_a_proposal_goes_when_the_page_reads_again(tmp_path: Path, site: PageServer) -> None:
    config, old = ingested(tmp_path, site, "/back/news/", "propose")
    run(config)
    assert state(config)[2] is not None
    site.serve("/back/news/", BEFORE)  # the site rolled its redesign back
    run(config)
    runs, actions, repair = state(config)
    assert runs[0].outcome == "same-bytes" and repair is None and feed_guids(config) == old
    assert actions[-1].action == "repair-drop" and "reads again" in actions[-1].detail


def test_a_json_source_whose_fields_moved_is_repaired_in_the_run(
    tmp_path: Path, site: PageServer
) -> None:
    """An API moved every field (title to attributes.headline, link to a relative path,
    date to attributes.publishedAt): auto_repair = "apply" finds them from the stored
    values, and every item keeps its guid."""
    url = site.url("/api/posts")
    before = (FIXTURES / "json-moved.before.json").read_text(encoding="utf-8")
    site.serve("/api/posts", before.replace("https://api.example.org", site.url("")).encode(),
               headers=JSON)  # fmt: skip
    selectors = '\n  kind = "json"\n  [topics.sources.selectors]\n  item = "posts"\n'
    selectors += '  title = "title"\n  link = "link"\n  date = "date"\n  summary = "excerpt"\n'
    config = topic_config(tmp_path, url, "apply", selectors)
    prepare(config)
    run(config)
    old = feed_guids(config)
    assert len(old) == 8
    site.serve("/api/posts", (FIXTURES / "json-moved.after.json").read_bytes(), headers=JSON)
    run(config)
    runs, _, repair = state(config)
    assert (runs[0].outcome, runs[0].new_items) == ("repaired", 0)
    assert repair is not None and 'title = "attributes.headline"' in repair.block
    assert feed_guids(config) == old
