"""The per-worker feed cache: werkzeug's answers exactly, fresh after every publish, bounded."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest
from conftest import TOPIC_PATH, PageServer, page
from flask import Response
from flask.testing import FlaskClient
from werkzeug.test import EnvironBuilder

from feedsvc.config import Config
from feedsvc.formats import MEDIA_TYPES
from feedsvc.generation import generation_marker
from feedsvc.headers import SECURITY_HEADERS
from feedsvc.keys import FeedKey
from feedsvc.model import Rendered
from feedsvc.publish.export import bump_generation
from feedsvc.publish.gather import feed_doc
from feedsvc.publish.render import package
from feedsvc.store import Store
from feedsvc.web import create_app
from feedsvc.web.cache import Entry, FeedCache

TOPIC = FeedKey(topic="security-cooperation")
URL = f"/{TOPIC.path}/feed.atom"


@pytest.fixture
def client(run_ingest, config: Config) -> FlaskClient:
    run_ingest()
    return create_app(config).test_client()


def werkzeug_answer(out: Rendered, config: Config, headers: dict[str, str], method: str):
    """What werkzeug's own conditional machinery answers for these bytes: the reference."""
    gzipped = "gzip" in headers.get("Accept-Encoding", "")
    response = Response(out.gzip_body if gzipped else out.body, content_type=MEDIA_TYPES["atom"])
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    response.set_etag(out.etag.strip('"') + ("-gz" if gzipped else ""))
    response.last_modified = out.last_modified
    response.headers["Vary"] = "Accept-Encoding, Accept, Sec-Fetch-Dest"  # Atom has a browser view
    response.cache_control.public = True
    response.cache_control.max_age = min(config.ingest.interval_minutes, 60) * 60
    response.headers.update(SECURITY_HEADERS)
    environ = EnvironBuilder(path=URL, method=method, headers=headers).get_environ()
    response.make_conditional(environ)
    status, wsgi_headers = response.status_code, response.get_wsgi_headers(environ)
    body = b"".join(response.get_app_iter(environ))
    # A 304 carries the validators and caching headers (RFC 9110 15.4.5), as the static tier's.
    dropped = {"Date", *SECURITY_HEADERS} if status == 304 else {"Date"}
    return status, sorted((k, v) for k, v in wsgi_headers.items() if k not in dropped), body


def conditional_cases(out: Rendered) -> list[dict[str, str]]:
    etag = out.etag
    gz_etag = etag[:-1] + '-gz"'
    modified = format_datetime(out.last_modified, usegmt=True)
    return [
        {},
        {"Accept-Encoding": "gzip, deflate"},
        {"If-None-Match": etag},
        {"If-None-Match": gz_etag, "Accept-Encoding": "gzip"},
        {"If-None-Match": gz_etag},
        {"If-None-Match": f"W/{etag}"},
        {"If-None-Match": f'"nope", {etag}'},
        {"If-None-Match": "*"},
        {"If-None-Match": '"nope"', "If-Modified-Since": modified},
        {"If-None-Match": ",", "If-Modified-Since": modified},
        {"If-Modified-Since": modified},
        {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"},
        {"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"},
        {"If-Modified-Since": "yesterday"},
        {"If-Match": etag, "If-None-Match": etag},
        {"If-Match": '"nope"', "If-None-Match": etag},
        {"Range": "bytes=0-10"},
    ]


def test_answers_are_werkzeugs_for_every_conditional_case(
    client: FlaskClient, store: Store, config: Config
) -> None:
    out = store.rendered(TOPIC, "atom", config.feeds.default_limit)
    assert out is not None
    statuses = set()
    for method in ("GET", "HEAD"):
        for headers in conditional_cases(out):
            for _ in range(2):  # the first request fills the cache, the second is served from it
                response = client.open(URL, method=method, headers=headers)
                got = (
                    response.status_code,
                    sorted((k, v) for k, v in response.headers.items() if k != "Date"),
                    response.data,
                )
                assert got == werkzeug_answer(out, config, headers, method), (method, headers)
                statuses.add(response.status_code)
    assert statuses == {200, 304, 412}


def test_a_publish_is_seen_at_once_and_nothing_else_is(
    client: FlaskClient, store: Store, config: Config, server: PageServer, run_ingest
) -> None:
    first = client.get(URL)
    assert first.status_code == 200
    replaced = package(b"<feed>not yet announced</feed>", _doc_stub(store, config))
    store.save_rendered({(TOPIC, "atom", config.feeds.default_limit): replaced})
    assert client.get(URL).data == first.data  # served from memory: the marker did not move
    bump_generation(config)
    assert client.get(URL).data == replaced.body  # the marker moved: the store is read again
    server.serve(TOPIC_PATH, page("rand-2024.html"))
    run_ingest()  # a real change: rendered, kept and announced by the publisher
    after = client.get(URL, headers={"If-None-Match": first.headers["ETag"]})
    stored = store.rendered(TOPIC, "atom", config.feeds.default_limit)
    assert after.status_code == 200 and after.data == stored.body
    assert after.headers["ETag"] == stored.etag


def test_a_publish_whose_files_cannot_be_written_is_still_served(
    client: FlaskClient, store: Store, config: Config, server: PageServer, run_ingest
) -> None:
    """The workers hear of a publish before the export: a full disk or a broken published
    directory must not leave them serving the old feed."""
    before = client.get(URL)
    assert before.status_code == 200
    blocker = config.publish.directory / TOPIC.path / "feed.atom"
    blocker.unlink()
    blocker.mkdir()  # the file cannot be replaced now, not even by root
    server.serve(TOPIC_PATH, page("rand-2024.html"))
    with pytest.raises(OSError):
        run_ingest()
    after = client.get(URL)
    stored = store.rendered(TOPIC, "atom", config.feeds.default_limit)
    assert stored.body != before.data and after.data == stored.body
    blocker.rmdir()  # the disk is fixed: the next cycle, with nothing new, writes the file
    run_ingest()
    assert blocker.read_bytes() == stored.body


def test_without_a_marker_every_request_reads_the_store(
    client: FlaskClient, store: Store, config: Config
) -> None:
    generation_marker(config).unlink()
    client.get(URL)
    replaced = package(b"<feed>changed</feed>", _doc_stub(store, config))
    store.save_rendered({(TOPIC, "atom", config.feeds.default_limit): replaced})
    assert client.get(URL).data == replaced.body


def test_an_entry_loaded_across_a_publish_is_not_kept(tmp_path: Path, config: Config) -> None:
    marker = generation_marker(config)
    bump_generation(config)
    cache = FeedCache(marker)
    loads: list[int] = []

    def load_during_publish() -> Rendered:
        loads.append(1)
        bump_generation(config)  # a publish lands while this request reads the store
        return _rendered(b"old")

    def entry(load: Callable[[], Rendered]) -> Callable[[], Entry]:
        return lambda: Entry.build(load(), "atom", config)

    cache.get(("a", "atom", 50), entry(load_during_publish))
    cache.get(("a", "atom", 50), entry(lambda: _rendered(b"new")))
    got = cache.get(("a", "atom", 50), entry(load_during_publish))
    assert len(loads) == 1 and got.plain.body == b"new"


def test_memory_is_bounded(config: Config) -> None:
    bump_generation(config)
    cache = FeedCache(generation_marker(config), max_bytes=3_000)
    loads: list[str] = []

    def load(name: str) -> Rendered:
        loads.append(name)
        return _rendered(name.encode() * 500)  # 500 bytes plus its gzip copy

    for name in ("a", "b", "a", "c", "d", "a"):
        cache.get((name, "atom", 50), lambda name=name: Entry.build(load(name), "atom", config))
    assert loads == ["a", "b", "c", "d", "a"]  # full at "d": dropped everything, "a" read again
    assert cache._current.size <= 3_000


def _rendered(body: bytes) -> Rendered:
    return Rendered(body, body, '"x"', datetime(2024, 1, 1, tzinfo=UTC))


def _doc_stub(store: Store, config: Config):
    return feed_doc(store, config, TOPIC, config.feeds.default_limit)
