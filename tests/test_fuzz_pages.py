"""No bytes end in a traceback: discover, its preview and extract on mutated pages.

Each fixture page is mutated the ways real captures are broken (cut short, comments and
processing instructions anywhere, an XML declaration, control characters, deep nesting,
a JSON or PDF body served as HTML, nothing at all, a page of megabytes); discover must
give a block or NothingFound, extract items or ExtractError, and nothing else.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FIXTURES
from test_config import feedsvc as feedsvc_cli

from feedsvc.config.sources import Selector, Selectors
from feedsvc.discover.items import NothingFound, discover
from feedsvc.discover.report import propose
from feedsvc.extract.listing import ExtractError, extract

URL = "https://example.org/news/"
SEEDS = sorted((FIXTURES / "discover").glob("*.html")) + sorted(
    (FIXTURES / "families").glob("*.html")
)
ANY_ITEM = Selectors(item="li, article, tr", title=(Selector("a"),), link=(Selector("a"),))
Mutation = Callable[[bytes, random.Random], bytes]


def truncated(page: bytes, rng: random.Random) -> bytes:
    return page[: rng.randrange(len(page))]


def commented(page: bytes, rng: random.Random) -> bytes:
    """Comments, conditional comments and processing instructions after random tags."""
    parts = page.split(b">")
    junk = [b"<!-- x -->", b"<!--[if IE]><p>old</p><![endif]-->", b"<?php echo 1; ?>", b"<!---->"]
    for _ in range(40):
        at = rng.randrange(len(parts))
        parts[at] += b">" + rng.choice(junk)[:-1]
    return b">".join(parts)


def declared(page: bytes, rng: random.Random) -> bytes:
    declaration = b'<?xml version="1.0" encoding="utf-8"?>\n'
    return rng.choice([b"", b"\xef\xbb\xbf", b"  \n"]) + declaration + page


def controlled(page: bytes, rng: random.Random) -> bytes:
    data = bytearray(page)
    for _ in range(60):
        data.insert(rng.randrange(len(data)), rng.choice([0, 1, 8, 11, 12, 27, 127]))
    return bytes(data)


def nested(page: bytes, rng: random.Random) -> bytes:
    depth = rng.choice([300, 3000])
    return page.replace(b"<body", b"<div>" * depth + b"<body", 1) + b"</div>" * depth


def broken_bytes(page: bytes, rng: random.Random) -> bytes:
    data = bytearray(page)
    for _ in range(80):
        data[rng.randrange(len(data))] = rng.choice([0x80, 0xC3, 0xFF, 0xFE, 0xE2])
    return bytes(data)


MUTATIONS: dict[str, Mutation] = {
    "truncated": truncated,
    "commented": commented,
    "declared": declared,
    "controlled": controlled,
    "nested": nested,
    "broken-bytes": broken_bytes,
}
ODD_BODIES = {
    "empty": b"",
    "blank": b" \n\t ",
    "json": b'{"items": [{"title": "A", "url": "/a"}], "next": null}',
    "pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\nstartxref\n%%EOF",
    "only-comment": b"<!-- nothing here -->",
    "only-declaration": b'<?xml version="1.0"?>',
    "deep-json-ld": b'<script type="application/ld+json">' + b"[" * 100_000 + b"</script>",
    "nul": b"\x00" * 100,
}


def survives(body: bytes, encoding: str | None) -> None:
    """Discover and preview give a proposal or NothingFound; extract items or ExtractError."""
    try:
        found = discover(body, URL, encoding)
    except NothingFound as exc:
        assert exc.tried and all(isinstance(step, str) for step in exc.tried)
    else:
        propose(found, URL, body, encoding)
    try:
        extract(body, ANY_ITEM, encoding)
    except ExtractError as exc:
        assert exc.reason


@pytest.mark.parametrize("seed", SEEDS, ids=[p.stem for p in SEEDS])
@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_mutated_pages_never_end_in_a_traceback(seed: Path, mutation: str) -> None:
    rng = random.Random(f"{seed.name}:{mutation}")
    page = seed.read_bytes()
    for _ in range(3):
        survives(MUTATIONS[mutation](page, rng), rng.choice(["utf-8", "cp1252", None]))


@pytest.mark.parametrize("name", sorted(ODD_BODIES))
def test_bodies_that_are_no_listing_say_so(name: str) -> None:
    for encoding in ("utf-8", None):
        survives(ODD_BODIES[name], encoding)
        with pytest.raises(NothingFound):
            discover(ODD_BODIES[name], URL, encoding)


def test_a_page_of_megabytes_is_read(tmp_path: Path) -> None:
    """A 5 MB listing: a block, or the clear refusal, in bounded time (no quadratic walk)."""
    seed = (FIXTURES / "discover" / "wordpress-list.html").read_bytes()
    head, _, rest = seed.partition(b"</body>")
    filler = b"<div class='sidebar'><p>" + b"lorem ipsum " * 400 + b"</p></div>"
    page = head + filler * (5_000_000 // len(filler)) + b"</body>" + rest
    assert len(page) > 5_000_000
    survives(page, "utf-8")


@pytest.mark.parametrize("name", ["pdf", "empty", "json"])
def test_the_command_line_exits_1_with_what_it_tried(name: str, tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(ODD_BODIES[name])
    result = feedsvc_cli("discover", URL, "--file", str(page), cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert "discover: found no list of items: tried:" in result.stderr
