"""Requests no one should send: each gets a one-line 4xx, never a 500 or a traceback."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import TOPIC_PATH, PageServer, write_config
from flask.testing import FlaskClient

from feedsvc.config import Config, load
from feedsvc.jobs.cycle import prepare
from feedsvc.store import Store
from feedsvc.web import MAX_URL_CHARS, create_app

TOPIC = "security-cooperation"
FEED = f"/topics/{TOPIC}/feed.atom"


@pytest.fixture
def client(run_ingest, config: Config) -> FlaskClient:
    run_ingest()
    return create_app(config).test_client()


def one_line(response) -> str:
    """The error body, checked to be a single line of text and no traceback."""
    assert response.mimetype == "text/plain", response.data[:200]
    assert response.text.count("\n") == 1 and "Traceback" not in response.text
    return response.text


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", [FEED, "/", "/healthz"])
def test_a_wrong_method_is_405_with_allow(client: FlaskClient, method: str, path: str) -> None:
    response = client.open(path, method=method, data=b"x" * 100)
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert one_line(response).startswith("405 Method Not Allowed: ")


def test_a_wrong_method_on_a_json_feed_answers_json(client: FlaskClient) -> None:
    response = client.post(f"/topics/{TOPIC}/feed.json")
    assert response.status_code == 405 and response.json["status"] == 405
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize(
    "path",
    [
        "/" + "a" * MAX_URL_CHARS,
        f"{FEED}?q=" + "x" * MAX_URL_CHARS,
        f"{FEED}?" + "&".join(f"k{i}=v" for i in range(MAX_URL_CHARS // 4)),
    ],
    ids=["long path", "long query", "many parameters"],
)
def test_an_absurdly_long_url_is_414(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 414
    assert (
        one_line(response)
        == f"414 Request URI Too Long: URL longer than {MAX_URL_CHARS} characters\n"
    )


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"{FEED}?limit=²", 400),  # a digit to str.isdigit, not to int()
        (f"{FEED}?limit=%00", 400),
        (f"{FEED}?limit=-1", 400),
        (f"{FEED}?limit=1e3", 400),
        (f"{FEED}?limit=", 400),
        (f"{FEED}?limit=" + "9" * 1000, 400),
        ("/topics/%ff%fe/feed.atom", 404),
        ("/topics/%00/feed.rss", 404),
        (f"/topics/{TOPIC}/feed.%2e%2e", 404),
        ("/types/../../etc/passwd/feed.rss", 404),
        ("/topics/" + "é" * 300 + "/feed.json", 404),
        ("/static/../config.toml", 404),
    ],
)
def test_odd_requests_get_a_4xx(client: FlaskClient, path: str, status: int) -> None:
    response = client.get(path)
    assert response.status_code == status
    if response.mimetype != "application/json":
        one_line(response)


def test_head_and_options_are_answered(client: FlaskClient) -> None:
    head = client.head(FEED)
    assert head.status_code == 200 and head.data == b""
    options = client.options(FEED)
    assert options.status_code == 200 and "GET" in options.headers["Allow"]


@pytest.mark.parametrize("path", ["/", FEED, "/healthz", "/no/such/page"])
def test_security_headers_are_on_every_response(client: FlaskClient, path: str) -> None:
    headers = client.get(path).headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in headers["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"  # governs XSLT: /static/feed.xsl may render feeds
    assert "'self'" in policy["style-src"] and policy["frame-ancestors"] == "'none'"


def test_a_broken_store_is_a_one_line_500_and_a_logged_traceback(
    client: FlaskClient, config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    database = config.service.database.removeprefix("sqlite:///")
    with sqlite3.connect(database) as conn:
        conn.execute("DROP TABLE rendered")
    with caplog.at_level(logging.ERROR):
        response = client.get(FEED)
    assert response.status_code == 500
    assert one_line(response) == (
        "500 Internal Server Error: internal error; the details are in the service log\n"
    )
    assert "no such table: rendered" in caplog.text and "Traceback" in caplog.text
    assert client.get(f"/topics/{TOPIC}/feed.json").json["status"] == 500


def two_topic_config(tmp_path: Path, server: PageServer, extra: str = "") -> Config:
    """Topic one reads one page; topic two reads two."""
    path = write_config(tmp_path, server.url(TOPIC_PATH), extra=extra)
    path.write_text(
        path.read_text()
        + "".join(
            f"""
{"[[topics]]" if n == 0 else ""}
{'slug = "two"' if n == 0 else ""}
{'title = "Two"' if n == 0 else ""}
  [[topics.sources]]
  url = "{server.url(f"/two-{n}.html")}"
  preset = "rand-topic"
"""
            for n in range(2)
        )
    )
    return load(path)


def test_healthz_is_503_when_every_source_of_a_topic_failed_long_enough(
    tmp_path: Path, server: PageServer
) -> None:
    config = two_topic_config(tmp_path, server, extra="failing_after_minutes = 30\n")
    prepare(config)
    client = create_app(config).test_client()
    store = Store(config.service.database)
    now = datetime.now(UTC)
    long_ago, lately = now - timedelta(minutes=31), now - timedelta(minutes=29)
    one, two_a, two_b = [s.url for t in config.topics for s in t.sources]

    store.record_failure(TOPIC, one, "fetch: HTTP 500 Internal Server Error", lately)
    store.record_failure("two", two_a, "fetch: HTTP 500 Internal Server Error", long_ago)
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json["status"] == "degraded"

    store.record_failure(TOPIC, one, "fetch: HTTP 500 Internal Server Error", now)  # since: kept
    store.record_failure("two", two_b, "extract: no items matched", long_ago)
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.json["status"] == "down" and health.json["topics_down"] == ["two"]
    assert [s["state"] for s in health.json["sources"]] == ["failing"] * 3
    store.close()
