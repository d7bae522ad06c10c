"""A few seconds of the load run (`python -m bench.load`) in the suite: real gunicorn, real ingests, every answer checked."""

from __future__ import annotations

import http.client
from pathlib import Path

from tests.support.config import write_config
from tests.support.load import TOPIC, GrowingSite, run_load
from tests.support.net import free_port
from tests.support.servers import feedsvc_serve


def test_a_short_load_while_ingesting_fails_no_request() -> None:
    result = run_load(seconds=5, connections=16, ingest_seconds=1, tool="python")
    assert result.ok, "\n".join(result.lines())
    assert result.requests > 100 and result.ingests_ok >= 1
    # Feeds changed under the load (six paths, more bodies), each version checked.
    assert result.distinct_bodies > 6


def test_gunicorn_answers_absurd_urls_with_a_4xx(tmp_path: Path) -> None:
    site = GrowingSite()
    port = free_port()
    log = tmp_path / "serve.log"
    config = write_config(tmp_path, {TOPIC: site.url}, base_url=f"http://127.0.0.1:{port}")
    with feedsvc_serve(config, port, log, workers=1, scheduler=False):
        answers = {}
        for length in (3000, 5000, 100_000):  # ours (414), then gunicorn's own request-line limit
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/topics/load/feed.atom?q=" + "x" * length)
            response = conn.getresponse()
            answers[length] = (response.status, response.read())
            conn.close()
    site.close()
    assert answers[3000] == (414, b"414 Request URI Too Long: URL longer than 2048 characters\n")
    assert all(400 <= status < 500 for status, _ in answers.values())
    assert "Traceback" not in log.read_text()
