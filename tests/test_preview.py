"""`feedsvc preview` and `feedsvc check --fetch` through the real CLI on fixture pages.

Every markup family is served by a real HTTP server on 127.0.0.1 with its golden source
keys; the preview must show exactly the golden items, and store nothing.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from conftest import PageServer
from test_config import feedsvc
from test_families import CASES, FAMILIES, family_config, fill

TOPIC = "security-cooperation"


@pytest.mark.parametrize("name", CASES)
def test_preview_json_shows_the_golden_items_and_stores_nothing(
    name: str, tmp_path: Path, server: PageServer
) -> None:
    config_path, expect = family_config(tmp_path, server, name)

    shown = feedsvc("--config", str(config_path), "preview", "--topic", TOPIC, "--json")

    assert shown.returncode == 0, shown.stderr
    [source] = json.loads(shown.stdout)["sources"]
    items = {item["guid"]: item for item in source["items"]}
    wanted = [{k: fill(v, server) for k, v in item.items()} for item in expect["items"]]
    assert sorted(items) == sorted(want.get("guid", want["link"]) for want in wanted)
    for want in wanted:
        item = items[want.get("guid", want["link"])]
        assert set(item) == {
            "guid",
            "link",
            "title",
            "type",
            "type_label",
            "published",
            "summary",
            "image",
            "caption",
            "credit",
            "author",
        }
        assert (item["link"], item["title"], item["type"]) == (
            want["link"],
            want["title"],
            want.get("type", item["type"]),
        )
        if want.get("published"):
            assert item["published"] == want["published"]
        if "image_url" in want:
            assert item["image"] == want["image_url"]
    assert source["selectors"]["item"]["matched"] == source["selectors"]["item"]["of"]
    assert not (tmp_path / "var").exists()  # no store, no publish directory


def test_preview_text_counts_each_selector_and_names_text_that_is_not_a_date(
    tmp_path: Path, server: PageServer
) -> None:
    config_path, _ = family_config(tmp_path, server, "carousel")

    shown = feedsvc("--config", str(config_path), "preview", "--topic", TOPIC)

    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert f"{server.url('/listing/carousel.html')}: 4 items" in out
    assert "Deterrence by Denial" in out and "2018-03-19" in out
    assert 'item: 4 of 4 items (selector "div.slide")' in out
    assert "date: 3 of 4 items; 1 had text that is not a date: 'Multimedia'" in out
    assert 'summary: 1 of 4 items (selector ".slide-text")' in out
    assert "warnings: 1\n  - date: item 1: not a date: 'Multimedia'" in out
    assert not (tmp_path / "var").exists()


def test_preview_leaves_an_existing_store_unchanged(tmp_path: Path, server: PageServer) -> None:
    config_path, _ = family_config(tmp_path, server, "drupal")
    assert feedsvc("--config", str(config_path), "ingest", cwd=tmp_path).returncode == 0
    files = sorted((tmp_path / "var").rglob("*"))
    before = {path: _digest(path) for path in files}

    shown = feedsvc("--config", str(config_path), "preview", "--topic", TOPIC, cwd=tmp_path)

    assert shown.returncode == 0, shown.stderr
    assert sorted((tmp_path / "var").rglob("*")) == files
    assert {path: _digest(path) for path in files} == before


def test_preview_file_reads_the_page_from_disk_without_fetching(
    tmp_path: Path, server: PageServer
) -> None:
    config_path, _ = family_config(tmp_path, server, "wordpress")
    page = FAMILIES / "wordpress.html"

    shown = feedsvc(
        "--config", str(config_path), "preview", "--topic", TOPIC, "--source", "1",
        "--file", str(page), "--json",
    )  # fmt: skip

    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["sources"][0]["items"]
    assert server.requests == []


def test_a_selector_that_matches_nothing_fails_preview_and_check_fetch(
    tmp_path: Path, server: PageServer
) -> None:
    config_path, _ = family_config(tmp_path, server, "drupal")
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace('title = { css = ".teaser__title"', 'title = { css = "h2"'))

    shown = feedsvc("--config", str(config_path), "preview", "--topic", TOPIC)
    checked = feedsvc("--config", str(config_path), "check", "--fetch")

    assert shown.returncode == 1, shown.stdout
    assert ": 0 items" in shown.stdout
    assert 'title: 0 of 4 items (selector "h2")' in shown.stdout
    assert "title selector matched nothing" in shown.stdout
    first = 'the item reads: "Report Arctic Security After the Thaw'
    assert f'  - normalize: item 0: no title; title selector "h2"; {first}' in shown.stdout
    assert checked.returncode == 1, checked.stdout
    url = server.url("/listing/drupal.html")
    assert f'{TOPIC}:1 {url}: FAILED: no items; title selector "h2" matched nothing' in (
        checked.stdout
    )
    assert not (tmp_path / "var").exists()
    ingested = feedsvc("--config", str(config_path), "ingest", cwd=tmp_path)
    assert ingested.returncode == 1
    assert ingested.stdout.startswith(
        f"{TOPIC} {url}: error: normalize: none of the 4 items had a title and a link; "
        f'title selector "h2" matched 0 of 4 items; the first item without a title or link '
        f'reads: "Report Arctic'
    )
    # each error printed once (on stdout); stderr says only that the store was created
    assert ingested.stderr.startswith("store created at revision ")
    assert len(ingested.stderr.splitlines()) == 1


def test_check_fetch_passes_when_every_source_yields_items(
    tmp_path: Path, server: PageServer
) -> None:
    config_path, _ = family_config(tmp_path, server, "rand-2015")

    checked = feedsvc("--config", str(config_path), "check", "--fetch")

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "1 sources fetched: all OK" in checked.stdout


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--topic", "nope"), "unknown topic 'nope'"),
        (("--topic", TOPIC, "--source", "3"), "has sources 1 to 1, not 3"),
    ],
)
def test_preview_of_an_unknown_topic_or_source_is_a_usage_error(
    arguments: tuple[str, ...], message: str, tmp_path: Path, server: PageServer
) -> None:
    config_path, _ = family_config(tmp_path, server, "rand-2015")

    shown = feedsvc("--config", str(config_path), "preview", *arguments)

    assert shown.returncode == 2 and message in shown.stderr
    assert server.requests == []


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"


def test_a_page_that_cannot_be_read_is_a_warning_and_exit_1(
    tmp_path: Path, server: PageServer
) -> None:
    config_path, _ = family_config(tmp_path, server, "drupal")
    server.serve("/listing/drupal.html", b"not here", status=404)
    empty = tmp_path / "saved.html"
    empty.write_bytes(b"  \n")

    shown = feedsvc("--config", str(config_path), "preview", "--topic", TOPIC, "--json")
    saved = feedsvc("--config", str(config_path), "preview", "--topic", TOPIC, "--file", str(empty))
    checked = feedsvc("--config", str(config_path), "check", "--fetch")

    assert shown.returncode == 1, shown.stderr
    [source] = json.loads(shown.stdout)["sources"]
    assert source["items"] == [] and source["warnings"][0].startswith("fetch: HTTP 404")
    assert saved.returncode == 1 and "extract: the page is empty" in saved.stdout
    assert checked.returncode == 1 and "FAILED: no items; fetch: HTTP 404" in checked.stdout
