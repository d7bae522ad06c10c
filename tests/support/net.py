"""Ports on 127.0.0.1: one nothing listens on, waiting until a child listens on one, and the
tripwire that keeps a test process off every other address."""

from __future__ import annotations

import ipaddress
import socket
import subprocess
import time


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 30) -> None:
    """Block until something accepts connections on the port; fail if the process died."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with status {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {seconds} s")


class Tripwire:
    """Refuses, in this test process, every TCP connection to an address off 127.0.0.0/8 and
    ::1, and every DNS lookup of a real name: the suite stays on this host even when the
    address guard under test is broken. Each attempt is kept, so the test that made it fails."""

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self._connect = socket.socket.connect
        self._connect_ex = socket.socket.connect_ex
        self._getaddrinfo = socket.getaddrinfo

    def install(self) -> None:
        tripwire = self

        def connect(sock: socket.socket, address: object) -> None:
            tripwire.check(sock, address)
            return tripwire._connect(sock, address)

        def connect_ex(sock: socket.socket, address: object) -> int:
            tripwire.check(sock, address)
            return tripwire._connect_ex(sock, address)

        def getaddrinfo(host: object, *args: object, **kwargs: object) -> list:
            if isinstance(host, bytes):
                host = host.decode("ascii", "replace")
            if host not in (None, "localhost") and not _numeric(str(host)):
                tripwire.attempts.append(f"DNS lookup of {host}")
                raise socket.gaierror(socket.EAI_NONAME, f"tests resolve no names ({host})")
            return tripwire._getaddrinfo(host, *args, **kwargs)

        socket.socket.connect = connect  # type: ignore[method-assign]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = getaddrinfo

    def check(self, sock: socket.socket, address: object) -> None:
        """Refuse an Internet address that is not loopback."""
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return
        host = str(address[0]) if isinstance(address, tuple) else str(address)
        if not ipaddress.ip_address(host.split("%")[0]).is_loopback:
            self.attempts.append(f"connection to {address}")
            raise ConnectionRefusedError(f"tests connect to loopback only, not {address}")


def _numeric(host: str) -> bool:
    """An IP literal in any form inet_aton or inet_pton reads (2130706433, 0x7f.1, ::1)."""
    try:
        socket.inet_aton(host)
        return True
    except OSError:
        pass
    try:
        socket.inet_pton(socket.AF_INET6, host.split("%")[0])
        return True
    except OSError:
        return False
