"""Image probes: one HEAD per new image after the ingest, bounded per run, retried on later runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import feedparser
import pytest
from conftest import TOPIC_PATH, PageServer, page, write_config
from sqlalchemy.engine import make_url

from feedsvc.config import Config, load
from feedsvc.extract.listing import extract
from feedsvc.fetch.client import make_fetcher
from feedsvc.ingest.probe import MAX_ATTEMPTS
from feedsvc.ingest.source import SourceReport
from feedsvc.jobs.cycle import prepare, run_cycle, targets
from feedsvc.keys import FeedKey
from feedsvc.store import Store
from feedsvc.web import create_app
from tests.support.stores import as_revision_0004

TOPIC = FeedKey(topic="security-cooperation")
PER_RUN = 6


@pytest.fixture
def probing(tmp_path: Path, server: PageServer) -> Config:
    """The usual test config, with PER_RUN image probes per run instead of none."""
    server.serve(TOPIC_PATH, page("rand-2015.html"))
    path = write_config(tmp_path, server.url(TOPIC_PATH))
    text = path.read_text().replace("image_probes_per_run = 0", f"image_probes_per_run = {PER_RUN}")
    path.write_text(text)
    return load(path)


@pytest.fixture
def probe_store(probing: Config) -> Iterator[Store]:
    prepare(probing)
    store = Store(probing.service.database)
    yield store
    store.close()


@pytest.fixture
def run(
    probe_store: Store, probing: Config, server: PageServer
) -> Callable[[], list[SourceReport]]:
    """One real ingest; the page gets other bytes each time, so it is read again."""
    runs = []

    def once() -> list[SourceReport]:
        runs.append(1)
        server.serve(TOPIC_PATH, page("rand-2015.html") + f"<!-- run {len(runs)} -->".encode())
        fetcher = make_fetcher(probing)
        try:
            return run_cycle(probe_store, fetcher, probing, targets(probing))
        finally:
            fetcher.close()

    return once


def images_on_page(config: Config) -> list[str]:
    """The paths of the images the 2015 capture shows, read as the ingest reads them."""
    source = config.topics[0].sources[0]
    found = extract(page("rand-2015.html"), source.selectors)
    paths = [urlsplit(urljoin(source.url, raw.image_src)).path for raw in found if raw.image_src]
    return list(dict.fromkeys(paths))


def serve_images(server: PageServer, paths: list[str], status: int = 200) -> None:
    """Each image answers with a size of its own, as PNG whatever its name says."""
    for number, path in enumerate(paths):
        body = b"\x89PNG" + b"." * (1_000 + number)
        server.serve(path, body, status=status, headers={"Content-Type": "image/png"})


def enclosures(config: Config, fmt: str) -> dict[str, tuple[str, str]]:
    """Image URL -> (length, type) of every enclosure of the served topic feed."""
    client = create_app(config).test_client()
    parsed = feedparser.parse(client.get(f"/{TOPIC.path}/feed.{fmt}").data)
    return {
        e.href: (e.get("length", ""), e.type) for entry in parsed.entries for e in entry.enclosures
    }


def test_each_new_image_is_asked_once_a_few_per_run(
    server: PageServer, run, probing: Config
) -> None:
    paths = images_on_page(probing)
    assert len(paths) > 2 * PER_RUN
    serve_images(server, paths)
    run()
    assert len(server.head_requests) == PER_RUN  # bounded per run
    rss = enclosures(probing, "rss")
    probed = {url: value for url, value in rss.items() if value[0] != "0"}
    assert len(probed) == PER_RUN and len(rss) == len(paths)
    assert {kind for _, kind in probed.values()} == {"image/png"}  # the server's, not .jpg's
    for url, (length, _) in probed.items():
        assert int(length) == len(server.routes[urlsplit(url).path].body)  # type: ignore[union-attr]
    atom = enclosures(probing, "atom")
    assert {url: value for url, value in atom.items() if value[0]} == probed
    while len(server.head_requests) < len(paths):
        run()
    run()
    assert sorted(server.head_requests) == sorted(paths)  # every image exactly once
    assert all(length != "0" for length, _ in enclosures(probing, "rss").values())
    client = create_app(probing).test_client()
    for fmt in ("rss", "atom", "json"):
        assert client.get(f"/{TOPIC.path}/feed.{fmt}?limit=7").status_code == 200
    assert sorted(server.head_requests) == sorted(paths)  # never per request


def test_a_failed_probe_is_retried_on_later_runs_then_left(
    server: PageServer, run, probing: Config, probe_store: Store
) -> None:
    paths = images_on_page(probing)
    serve_images(server, paths[:1], status=404)  # one image is gone; the others never answer
    serve_images(server, paths[1:], status=503)
    reports = run()
    assert reports[0].new == 21  # the items are stored whatever the probes meet
    for _ in range(MAX_ATTEMPTS * len(paths) // PER_RUN + 2):
        run()
    assert not probe_store.pending_image_probes(100, MAX_ATTEMPTS)
    asked = [path for path in server.head_requests if path == paths[0]]
    assert len(asked) == MAX_ATTEMPTS  # one HEAD per run, MAX_ATTEMPTS runs (404: no retry)
    assert all(length == "0" for length, _ in enclosures(probing, "rss").values())
    done = len(server.head_requests)
    run()
    assert len(server.head_requests) == done  # given up: never asked again


def test_an_answer_that_is_not_an_image_is_a_failed_probe(
    server: PageServer, run, probing: Config, probe_store: Store
) -> None:
    paths = images_on_page(probing)
    for path in paths:
        server.serve(path, b"<html>login</html>")  # text/html, a 200 that is no image
    run()
    probes = probe_store.pending_image_probes(100, MAX_ATTEMPTS)
    assert len(probes) == len(paths) and sum(p.attempts for p in probes) == PER_RUN
    assert all(length == "0" for length, _ in enclosures(probing, "rss").values())


def test_a_new_image_is_asked_about_again(
    server: PageServer, run, probing: Config, probe_store: Store
) -> None:
    paths = images_on_page(probing)
    serve_images(server, paths)
    run()
    while probe_store.pending_image_probes(1, MAX_ATTEMPTS):
        run()
    moved = page("rand-2015.html").replace(paths[0].encode(), b"/moved.png")
    server.serve("/moved.png", b"\x89PNG" + b"!" * 77, headers={"Content-Type": "image/png"})
    server.serve(TOPIC_PATH, moved)
    fetcher = make_fetcher(probing)
    try:
        assert run_cycle(probe_store, fetcher, probing, targets(probing))[0].updated == 1
    finally:
        fetcher.close()
    assert server.head_requests[-1] == "/moved.png"
    assert enclosures(probing, "atom")[server.url("/moved.png")] == ("81", "image/png")


def test_an_old_store_gains_the_probe_columns_in_place(
    server: PageServer, run, probing: Config, probe_store: Store
) -> None:
    run()
    before = probe_store.entries(TOPIC, 100)
    probe_store.close()
    as_revision_0004(make_url(probing.service.database).database)  # before image sizes
    upgraded = Store(probing.service.database)
    upgraded.create_schema()
    try:
        after = upgraded.entries(TOPIC, 100)
        assert [i.guid for i in after] == [i.guid for i in before]
        assert all(i.image_length is None for i in after)
        pending = upgraded.pending_image_probes(100, MAX_ATTEMPTS)
        assert len(pending) == sum(1 for i in before if i.image_url)  # every image asked again
        upgraded.create_schema()  # a second start finds nothing to do
    finally:
        upgraded.close()


def test_a_filtered_feed_carries_the_sizes_the_probes_found(
    tmp_path: Path, server: PageServer, probing: Config
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(path.read_text() + '\n[[custom_feeds]]\nslug = "all"\ntitle = "Every item"\n')
    config = load(path)
    prepare(config)
    paths = images_on_page(config)
    serve_images(server, paths)
    store = Store(config.service.database)
    fetcher = make_fetcher(config)
    try:
        for _ in range(len(paths) // PER_RUN + 2):  # PER_RUN probes a run
            run_cycle(store, fetcher, config, targets(config))
    finally:
        fetcher.close()
        store.close()
    client = create_app(config).test_client()
    parsed = feedparser.parse(client.get("/feeds/all/feed.rss").data)
    lengths = [e.get("length", "") for entry in parsed.entries for e in entry.enclosures]
    assert len(lengths) == len(paths)
    assert all(length not in ("", "0") for length in lengths)  # rendered again after each probe
