"""A few seconds of bench/load.py in the suite: real gunicorn, real ingests, every answer checked."""

from __future__ import annotations

import http.client
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from load import GrowingSite, free_port, run_load, serving, write_config


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
    with serving(write_config(tmp_path, site.url, port), port, 1, log):
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
