"""What every fetcher of a process shares per host: its next free slot, its robots.txt,
and how long a server asks us to wait (Retry-After)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.robotparser import RobotFileParser

ROBOTS_TTL_SECONDS = 3600.0


class Hosts:
    """What every fetcher in this process remembers per host: its next free slot and robots.txt.

    The scheduler makes a fetcher per job on several threads; the delay between two
    requests to one host and the cached robots.txt must hold across all of them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next_slot: dict[str, float] = {}
        self._robots: dict[str, tuple[float, RobotFileParser]] = {}
        self._robots_turns: dict[str, threading.Lock] = {}

    def wait_turn(self, host: str, delay: float) -> None:
        """Sleep until `delay` seconds have passed since the last request to `host` began,
        then take the turn; a turn shared meanwhile (`share_turn`) pushes it further."""
        while True:
            with self._lock:
                now = time.monotonic()
                free = self._next_slot.get(host, now)
                if free <= now:
                    self._next_slot[host] = now + delay
                    return
            time.sleep(free - now)

    def share_turn(self, host: str, delay: float) -> None:
        """A request that goes with a turn already taken (a rendered page's requests to a
        host it reached before): no wait, but the host's next turn comes `delay` after it."""
        with self._lock:
            now = time.monotonic()
            self._next_slot[host] = max(self._next_slot.get(host, now), now + delay)

    def robots(self, origin: str) -> RobotFileParser | None:
        """The robots.txt rules read for `origin` within the last hour, if any."""
        with self._lock:
            cached = self._robots.get(origin)
        if cached and time.monotonic() - cached[0] < ROBOTS_TTL_SECONDS:
            return cached[1]
        return None

    def robots_turn(self, origin: str) -> threading.Lock:
        """Held while one fetcher reads `origin`'s robots.txt: fetchers on other threads wait
        for its rules instead of each asking the host again."""
        with self._lock:
            return self._robots_turns.setdefault(origin, threading.Lock())

    def remember_robots(self, origin: str, rules: RobotFileParser) -> None:
        """Keep the rules of `origin` for an hour."""
        with self._lock:
            self._robots[origin] = (time.monotonic(), rules)

    def forget(self, origin: str) -> None:
        """Drop the robots.txt kept for `origin`: another server answers there now."""
        with self._lock:
            self._robots.pop(origin, None)


HOSTS = Hosts()


class PageTurns:
    """The turns one rendered page takes. Its first request to a host waits for the host's
    turn like any fetch; its other requests to that host go with that turn, as one visitor's
    browser loads a page, and each keeps the host's next visit `delay` after it. So a host
    sees a render as one visit, and `delay` of quiet between visits (docs/operations.md)."""

    def __init__(self, hosts: Hosts, visited: Iterable[str] = ()) -> None:
        self.hosts = hosts
        self._lock = threading.Lock()
        self._visited = set(visited)  # the document's host: its fetch took the turn
        self._turns: dict[str, threading.Lock] = {}

    def wait_turn(self, host: str, delay: float) -> None:
        """Wait for `host`'s turn on the page's first request to it; share it after."""
        with self._lock:
            turn = self._turns.setdefault(host, threading.Lock())
        with turn:  # the page's first requests to a host wait for the one turn together
            if host in self._visited:
                self.hosts.share_turn(host, delay)
                return
            self.hosts.wait_turn(host, delay)
            self._visited.add(host)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a Retry-After header asks for (delay-seconds or an HTTP date), None if unreadable."""
    value = (value or "").strip()
    if value.isascii() and value.isdigit():  # "²".isdigit() holds too
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
