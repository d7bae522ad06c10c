"""`[ingest] proxy = "socks5://…"` for real: Debian's microsocks relays on 127.0.0.1, names are
resolved and checked by feedsvc's dialer and the proxy is told only the checked address, so
the guard still refuses a forbidden destination before the proxy hears of it.

The names here resolve through a test resolver ("localhost" to 127.0.0.2): were a name ever
handed to the proxy, microsocks would look up "localhost" in /etc/hosts, and its log would
say so. `make test` installs microsocks (as root); elsewhere these tests skip and say why.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import upstreams
from conftest import TOPIC_PATH, PageServer, page, write_config
from lxml import html

from feedsvc.config import IngestConfig, load
from feedsvc.fetch.browser import CHROMIUM, render
from feedsvc.fetch.client import Fetcher, Refused, make_fetcher, user_agent
from feedsvc.fetch.dial import Dialer
from feedsvc.fetch.guard import source_guard
from feedsvc.jobs.cycle import run_cycle, targets
from feedsvc.store import Store
from tests.support.net import free_port
from tests.support.servers import missing_socks_server, socks_server

FIXTURES = Path(__file__).parent / "fixtures" / "browser"

pytestmark = [
    pytest.mark.skipif(missing_socks_server() is not None, reason=str(missing_socks_server())),
    pytest.mark.skipif(
        importlib.util.find_spec("socks") is None,
        reason="needs PySocks: pip install 'feedsvc[socks]' (the test extra has it)",
    ),
]


class Socks:
    """The running SOCKS5 server: its port, and the connections it made, from its log."""

    def __init__(self, port: int, log: Path) -> None:
        self.port, self.log = port, log

    def connections(self) -> list[str]:
        """HOST:PORT of every connection the server made so far, in order."""
        lines = self.log.read_text(errors="replace").splitlines()
        return [line.rsplit(" ", 1)[1] for line in lines if "connected to " in line]


@pytest.fixture(scope="module")
def socks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Socks]:
    port, log = free_port(), tmp_path_factory.mktemp("socks") / "microsocks.log"
    with socks_server(port, log):
        yield Socks(port, log)


def localhost(host: str, port: int) -> list[str]:
    """The test's resolver: "localhost" is 127.0.0.2 (the system's says 127.0.0.1, where
    nothing listens on the port: a fetch that did not use this one fails), no other name
    resolves."""
    if host != "localhost":
        raise OSError(f"no address for {host}")
    return ["127.0.0.2"]


@pytest.fixture
def site() -> Iterator[PageServer]:
    """The source's server, on the address the test's resolver gives."""
    server = PageServer("127.0.0.2")
    yield server
    server.close()


def test_a_source_is_fetched_through_a_socks5_proxy(
    tmp_path: Path, site: PageServer, socks: Socks
) -> None:
    site.serve(TOPIC_PATH, page("rand-2015.html"))
    port = site.httpd.server_address[1]
    url = f"http://localhost:{port}{TOPIC_PATH}"
    config = load(write_config(tmp_path, url, f'proxy = "socks5://127.0.0.1:{socks.port}"\n'))
    before = len(socks.connections())
    store = Store(config.service.database)
    store.create_schema()
    fetcher = make_fetcher(config, Dialer(resolve=localhost))
    try:
        [report] = run_cycle(store, fetcher, config, targets(config))
    finally:
        fetcher.close()
        store.close()
    assert report.ok and report.new == 21, report.line()
    assert [path for path, _ in site.requests] == [TOPIC_PATH]  # robots.txt apart
    assert site.requests[0][1]["Host"] == f"localhost:{port}"
    relayed = socks.connections()[before:]
    assert relayed and set(relayed) == {f"127.0.0.2:{port}"}  # the address checked, no name


@pytest.mark.parametrize("scheme", ["socks5", "socks5h"])
def test_a_forbidden_destination_is_refused_before_the_proxy_hears_of_it(
    tmp_path: Path, server: PageServer, socks: Socks, scheme: str
) -> None:
    """A port of 127.0.0.2 marked forbidden: through socks5 a name that resolves to it is
    refused (the proxy would resolve a name itself through socks5h, so there only its IP
    literal can be checked, and is)."""
    forbidden = PageServer("127.0.0.2")
    try:
        port = forbidden.httpd.server_address[1]
        config = load(
            write_config(
                tmp_path, server.url("/"), f'proxy = "{scheme}://127.0.0.1:{socks.port}"\n'
            )
        )
        dialer = Dialer(resolve=localhost, forbidden={("127.0.0.2", port)})
        fetcher = make_fetcher(config, dialer)
        before = len(socks.connections())
        urls = [f"http://127.0.0.2:{port}/latest/meta-data/"]
        urls += [f"http://localhost:{port}/admin"] if scheme == "socks5" else []
        try:
            for url in urls:
                with pytest.raises(Refused, match=f"127.0.0.2 port {port} is forbidden"):
                    fetcher.fetch(url, guard=source_guard(server.base), robots=False)
        finally:
            fetcher.close()
        assert forbidden.history == []
        assert socks.connections()[before:] == []
    finally:
        forbidden.close()


@pytest.mark.skipif(
    not CHROMIUM.exists() or importlib.util.find_spec("playwright") is None,
    reason=f"needs Debian's chromium at {CHROMIUM} and Playwright (make test installs both)",
)
def test_every_request_of_a_browser_page_goes_through_the_proxy_and_the_guard(
    site: PageServer, socks: Socks
) -> None:
    """The page's script, frame and XHR aim at a forbidden port: refused before the proxy is
    asked; the document and the API it reads are relayed to the address checked."""
    forbidden = PageServer()
    try:
        port = forbidden.httpd.server_address[1]
        shell = (FIXTURES / "reaches-out.html").read_bytes()
        site.serve("/briefings", shell.replace(b"FORBIDDEN_PORT", str(port).encode()))
        site.serve(
            "/api/briefings.json",
            (FIXTURES / "briefings.json").read_bytes(),
            headers={"Content-Type": "application/json"},
        )
        settings = IngestConfig(
            timeout_seconds=5,
            host_delay_seconds=0,
            proxy=f"socks5://127.0.0.1:{socks.port}",
        )
        dialer = Dialer(resolve=localhost, forbidden={("127.0.0.1", port)})
        fetcher = Fetcher(settings, agent=user_agent("http://feeds.test"), dialer=dialer)
        site_port = site.httpd.server_address[1]
        before = len(socks.connections())
        try:
            rendered = render(
                fetcher, f"http://localhost:{site_port}/briefings", wait_for="article.briefing"
            )
        finally:
            fetcher.close()
        headlines = html.fromstring(rendered.body).cssselect("article.briefing h3 a")
        assert len(headlines) == 2
        assert [p for p, _ in site.requests] == ["/briefings", "/api/briefings.json"]
        assert set(socks.connections()[before:]) == {f"127.0.0.2:{site_port}"}
        assert forbidden.history == []
        assert sum("is forbidden" in note for note in rendered.notes) == 3, rendered.notes
    finally:
        forbidden.close()


def test_tls_through_socks5_names_the_host_and_verifies_it(tmp_path: Path, socks: Socks) -> None:
    """The proxy is told the checked address; SNI, the Host header and the certificate check
    still name the host."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: no certificate to serve")
    tls = upstreams.TLSServer(tmp_path, "feeds.test")
    try:
        url = f"https://feeds.test:{tls.port}/"
        config = load(write_config(tmp_path, url, f'proxy = "socks5://127.0.0.1:{socks.port}"\n'))
        fetcher = make_fetcher(config, Dialer(resolve=lambda host, port: ["127.0.0.1"]))
        fetcher.session.verify = str(tls.certificate)  # trust this one self-signed cert
        before = len(socks.connections())
        try:
            assert fetcher.fetch(url, robots=False, guard=source_guard(url)).body == b"secure"
        finally:
            fetcher.close()
        assert tls.server_names == ["feeds.test"] and tls.hosts == [f"feeds.test:{tls.port}"]
        assert socks.connections()[before:] == [f"127.0.0.1:{tls.port}"]
    finally:
        tls.close()
