"""`[ingest] proxy = "socks5://…"` for real: Debian's microsocks relays on 127.0.0.1, names are
resolved and checked by feedsvc's dialer and the proxy is told only the checked address, so
the guard still refuses a forbidden destination before the proxy hears of it.

The names here resolve through a test resolver ("localhost" to 127.0.0.2): were a name ever
handed to the proxy, microsocks would look up "localhost" in /etc/hosts, and its log would
say so. `make test` installs microsocks (as root); elsewhere these tests skip and say why.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import TOPIC_PATH, PageServer, page, write_config

from feedsvc.config import load
from feedsvc.fetch.client import Refused, make_fetcher
from feedsvc.fetch.dial import Dialer
from feedsvc.fetch.guard import source_guard
from feedsvc.jobs.cycle import run_cycle, targets
from feedsvc.store import Store
from tests.support.net import free_port
from tests.support.servers import missing_socks_server, socks_server

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
