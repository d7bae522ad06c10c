"""A request profile per source: headers (a consent cookie, a language), a proxy, values from
the environment that are never shown; and a block by the site told apart from a broken page.
Everything runs against servers on 127.0.0.1."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from conftest import TOPIC_PATH, PageServer, Reply, page, send, write_config

from feedsvc.cli.main import main
from feedsvc.config import ConfigError, load
from feedsvc.fetch.client import FetchError, make_fetcher
from feedsvc.jobs.cycle import run_cycle, targets
from feedsvc.store import Store
from feedsvc.web import create_app

TOPIC = "security-cooperation"
CONSENT = "consent=yes; session=7f3a9c0e55d1"
HEADERS = 'headers = { "Accept-Language" = "de", "Cookie" = "${FEEDSVC_TEST_CONSENT}" }'
FIXTURES = Path(__file__).parent / "fixtures" / "blocked"


def consent_wall(handler: BaseHTTPRequestHandler) -> None:
    """The topic page for a client that sent the consent cookie and asked for German; else 403."""
    if handler.headers.get("Cookie") == CONSENT and handler.headers.get("Accept-Language") == "de":
        send(handler, Reply(page("rand-2015.html")))
    else:
        send(handler, Reply(b"<html><body><h1>Bitte Cookies akzeptieren</h1></body></html>", 403))


def ingest(config) -> tuple[Store, list]:
    store = Store(config.service.database)
    store.create_schema()
    fetcher = make_fetcher(config)
    try:
        return store, run_cycle(store, fetcher, config, targets(config))
    finally:
        fetcher.close()


def test_a_page_that_answers_403_without_the_consent_cookie(
    tmp_path: Path, server: PageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.routes[TOPIC_PATH] = consent_wall
    plain = load(write_config(tmp_path, server.url(TOPIC_PATH)))
    store, [refused] = ingest(plain)
    store.close()
    assert refused.error == f"fetch: HTTP 403 Forbidden from {server.url(TOPIC_PATH)}"

    monkeypatch.setenv("FEEDSVC_TEST_CONSENT", CONSENT)
    config = load(write_config(tmp_path, server.url(TOPIC_PATH), source_extra=HEADERS))
    store, [report] = ingest(config)
    try:
        assert report.ok and report.new == 21, report.line()
    finally:
        store.close()
    path, sent = server.requests[-1]
    assert path == TOPIC_PATH and sent["Cookie"] == CONSENT and sent["Accept-Language"] == "de"


def test_check_names_a_missing_variable_and_never_prints_a_set_one(
    tmp_path: Path,
    server: PageServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_config(tmp_path, server.url(TOPIC_PATH), source_extra=HEADERS)
    monkeypatch.delenv("FEEDSVC_TEST_CONSENT", raising=False)
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert str(caught.value) == (
        f"{path}: topics[0].sources[0].headers.Cookie: "
        "environment variable FEEDSVC_TEST_CONSENT is not set"
    )
    assert main(["--config", str(path), "check"]) == 2
    assert "environment variable FEEDSVC_TEST_CONSENT is not set" in capsys.readouterr().err

    monkeypatch.setenv("FEEDSVC_TEST_CONSENT", CONSENT)
    server.routes[TOPIC_PATH] = consent_wall
    assert main(["--config", str(path), "check", "--fetch"]) == 0
    out = capsys.readouterr()
    assert "21 items" in out.out and CONSENT not in out.out + out.err


def test_a_secret_never_shows_in_errors_status_or_healthz(
    tmp_path: Path, server: PageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy whose password comes from the environment; the proxy is a closed port."""
    closed = PageServer()
    closed_port = closed.httpd.server_address[1]
    closed.close()
    secret = "s3cr3t-pr0xy-pa55"
    monkeypatch.setenv("FEEDSVC_TEST_PROXY_PASSWORD", secret)
    proxy = f'proxy = "http://feeds:${{FEEDSVC_TEST_PROXY_PASSWORD}}@127.0.0.1:{closed_port}"\n'
    config = load(write_config(tmp_path, server.url(TOPIC_PATH), proxy + "attempts = 1\n"))
    assert secret in config.ingest.proxy
    assert secret not in str(FetchError(f"proxy http://feeds:{secret}@127.0.0.1 refused"))
    store, [report] = ingest(config)
    store.close()
    assert not report.ok and "ProxyError" in report.error, report.error
    assert secret not in report.error
    client = create_app(config).test_client()
    for url in ("/status", "/healthz", "/metrics"):
        response = client.get(url)
        assert secret not in response.get_data(as_text=True), url
    assert server.requests == []  # nothing went around the proxy


def test_every_fetch_goes_through_the_proxy(tmp_path: Path, server: PageServer) -> None:
    """An HTTP proxy on 127.0.0.1 (the fixture server answers absolute-form requests): the
    source's host name is never resolved here, only the proxy is reached."""
    proxied = "http://harbour-policy.test/topics/security.html"
    server.serve(proxied, page("rand-2015.html"))
    extra = f'proxy = "{server.base}"\n'
    config = load(write_config(tmp_path, proxied, extra))
    store, [report] = ingest(config)
    store.close()
    assert report.ok and report.new == 21, report.line()
    robots = "http://harbour-policy.test/robots.txt"
    assert [path for path, _ in server.requests] == [robots, proxied]


@pytest.mark.parametrize(
    ("fixture", "status", "wall"),
    [
        ("cloudflare-challenge.html", 403, "a Cloudflare challenge"),
        ("cloudflare-challenge.html", 503, "a Cloudflare challenge"),
        ("datadome-captcha.html", 403, "a DataDome captcha"),
        ("rate-limited-captcha.html", 429, "a reCAPTCHA"),
    ],
)
def test_a_challenge_page_is_blocked_by_the_site_not_retried(
    tmp_path: Path, server: PageServer, fixture: str, status: int, wall: str
) -> None:
    server.serve(TOPIC_PATH, page("rand-2015.html"))
    config = load(write_config(tmp_path, server.url(TOPIC_PATH)))
    store, [good] = ingest(config)
    assert good.ok
    server.serve(TOPIC_PATH, (FIXTURES / fixture).read_bytes(), status=status)
    before = len(server.requests)
    fetcher = make_fetcher(config)
    try:
        [report] = run_cycle(store, fetcher, config, targets(config))
    finally:
        fetcher.close()
        store.close()
    url = server.url(TOPIC_PATH)
    assert report.error == f"fetch: blocked by the site: HTTP {status} with {wall} at {url}"
    assert len(server.requests) == before + 1  # asked once: the wall answers the same again


def test_a_captcha_where_the_list_should_be_is_a_block_not_a_layout_change(
    tmp_path: Path, server: PageServer
) -> None:
    server.serve(TOPIC_PATH, page("rand-2015.html"))
    config = load(write_config(tmp_path, server.url(TOPIC_PATH)))
    store, [good] = ingest(config)
    assert good.ok
    try:
        server.serve(TOPIC_PATH, (FIXTURES / "captcha-200.html").read_bytes())
        fetcher = make_fetcher(config)
        try:
            [report] = run_cycle(store, fetcher, config, targets(config))
        finally:
            fetcher.close()
        url = server.url(TOPIC_PATH)
        assert report.error == (
            f"fetch: blocked by the site: HTTP 200 with an hCaptcha at {url} (no items on the page)"
        )
        assert store.source(TOPIC, url).last_success_at is not None
    finally:
        store.close()


def test_a_listing_with_a_recaptcha_newsletter_form_is_read_as_usual(
    tmp_path: Path, server: PageServer
) -> None:
    body = page("rand-2015.html").replace(
        b"</body>",
        b'<form id="newsletter"><div class="g-recaptcha" data-sitekey="6Lc"></div></form></body>',
    )
    server.serve(TOPIC_PATH, body)
    config = load(write_config(tmp_path, server.url(TOPIC_PATH)))
    store, [report] = ingest(config)
    store.close()
    assert report.ok and report.new == 21, report.line()


def test_status_and_healthz_show_the_block(tmp_path: Path, server: PageServer) -> None:
    server.serve(TOPIC_PATH, (FIXTURES / "cloudflare-challenge.html").read_bytes(), status=403)
    config = load(write_config(tmp_path, server.url(TOPIC_PATH)))
    store, [report] = ingest(config)
    store.close()
    assert report.error.startswith("fetch: blocked by the site: HTTP 403")
    client = create_app(config).test_client()
    health = json.loads(client.get("/healthz").data)
    assert "blocked by the site: HTTP 403" in json.dumps(health)
    assert "blocked by the site: HTTP 403" in client.get("/status").get_data(as_text=True)
