"""Hostile upstreams for tests/test_upstreams.py: a DNS server whose answer changes, and
routes that attack the client rather than fail (header floods, endless redirects, bombs).

Everything listens on 127.0.0.0/8 only. The DNS server speaks real DNS over UDP
(dnslib), and `resolve` asks it the way a resolver would, so a test can count the
lookups each request makes.
"""

from __future__ import annotations

import gzip
import itertools
import ssl
import subprocess
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import faults
from dnslib import QTYPE, RR, A, DNSRecord
from dnslib.server import BaseResolver, DNSServer
from faults import Route


class RebindingDNS:
    """A DNS server on 127.0.0.1 whose first `len(first)` answers for any name are `first`,
    and every later answer is `then` (TTL 0): what a rebinding attacker runs."""

    def __init__(self, first: Sequence[str], then: str) -> None:
        self.queries: list[str] = []
        answers = itertools.chain(first, itertools.repeat(then))
        dns = self

        class Flipping(BaseResolver):
            def resolve(self, request: DNSRecord, handler: object) -> DNSRecord:
                name = str(request.q.qname)
                dns.queries.append(name)
                reply = request.reply()
                if request.q.qtype == QTYPE.A:
                    reply.add_answer(RR(name, QTYPE.A, rdata=A(next(answers)), ttl=0))
                return reply

        self.server = DNSServer(Flipping(), port=0, address="127.0.0.1")
        self.server.start_thread()

    @property
    def port(self) -> int:
        return self.server.server.server_address[1]

    def resolve(self, host: str, port: int) -> list[str]:
        """The A records for `host`, asked of this server over UDP (a Dialer's resolver)."""
        reply = DNSRecord.parse(DNSRecord.question(host).send("127.0.0.1", self.port, timeout=5))
        return [str(rr.rdata) for rr in reply.rr if rr.rtype == QTYPE.A]

    def close(self) -> None:
        self.server.stop()


def header_flood(count: int) -> Route:
    """A 200 whose head carries `count` headers before the body."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        for number in range(count):
            handler.send_header(f"X-Flood-{number}", "x")
        handler.send_header("Content-Length", "2")
        handler.end_headers()
        handler.wfile.write(b"ok")

    return route


def header_drip(every: float) -> Route:
    """A status line, then header bytes one every `every` seconds, never ending: each read
    is quick, only a deadline on the whole request stops it."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
        try:
            while not faults.release.wait(every):
                handler.wfile.write(b"X")
                handler.wfile.flush()
        except OSError:  # the client gave up, as it should
            pass
        handler.close_connection = True

    return route


def endless_redirects() -> Route:
    """A 302 to a new path every time (/r/1, /r/2, ...): never a loop, never an end."""
    counter = itertools.count(1)

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", f"/r/{next(counter)}")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


def gzip_bomb(expanded_bytes: int) -> bytes:
    """Zeros that gzip to about a thousandth of their size."""
    return gzip.compress(bytes(expanded_bytes), compresslevel=9)


def entity_bomb(levels: int = 7) -> bytes:
    """An RSS feed whose one title is an entity expanding 16 ** `levels` times (billion laughs)."""
    lines = ['<!ENTITY e0 "' + "lol" * 16 + '">']
    for level in range(1, levels):
        lines.append(f'<!ENTITY e{level} "' + f"&e{level - 1};" * 16 + '">')
    return _feed("\n".join(lines), f"&e{levels - 1};")


def external_entities(*systems: str) -> bytes:
    """An RSS feed whose titles name external entities (a file, a URL)."""
    entities = "\n".join(f'<!ENTITY x{n} SYSTEM "{url}">' for n, url in enumerate(systems))
    return _feed(entities, *(f"Title &x{n}; end" for n in range(len(systems))))


def _feed(doctype: str, *titles: str) -> bytes:
    items = "".join(
        f"<item><title>{title}</title><link>https://www.example.org/{n}</link></item>"
        for n, title in enumerate(titles)
    )
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n{doctype}\n]>\n<rss version="2.0"><channel>'
        f"<title>Hostile</title><link>https://www.example.org/</link>{items}</channel></rss>"
    ).encode()


class TLSServer:
    """An HTTPS server on 127.0.0.1 whose self-signed certificate names `name`; it keeps the
    server name each client asked for in its TLS handshake (SNI) and each Host header."""

    def __init__(self, folder: Path, name: str) -> None:
        self.certificate, key = folder / f"{name}.pem", folder / f"{name}.key"
        files = ["-keyout", str(key), "-out", str(self.certificate)]
        subject = ["-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}"]
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                *files,
                *subject,
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        self.server_names: list[str | None] = []
        self.hosts: list[str | None] = []
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.certificate, key)
        context.sni_callback = lambda sock, server_name, ctx: self.server_names.append(server_name)
        hosts = self.hosts

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                hosts.append(self.headers["Host"])
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", "6")
                self.end_headers()
                self.wfile.write(b"secure")

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
