"""Candidate blocks for a `kind = "json"` source whose schema moved its fields; pure, no I/O.

Each list of objects in the document is a candidate. Its title, link and date paths are
the ones whose values are the stored items' titles, links and days (ground truth, so a
field renamed to anything is found); the other fields take the usual names
(discover.jsonblock). discover.repair reads and ranks the blocks like HTML ones.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from feedsvc.discover.jsonblock import CANDIDATES, IDENTIFIER, expression, field_path, object_lists
from feedsvc.discover.score import DATE_HINT
from feedsvc.extract.dates import parse_date
from feedsvc.extract.jsondoc import documents
from feedsvc.extract.listing import ExtractError
from feedsvc.model import KnownItem

MAX_DEPTH = 3  # how deep inside an item object a field is looked for
MATCHED = ("title", "link", "date")
EPOCH_FLOOR = 10**9  # seconds since 1970 from 2001 on: smaller numbers are ids and counts


def json_candidates(
    body: bytes, encoding: str | None, embedded: str | None, visible: list[KnownItem]
) -> list[tuple[str, float, list[str]]]:
    """A block per list of objects that holds the stored items' titles and links: its
    selectors table, its size as the score, and why."""
    try:
        found = documents(body, encoding, embedded)
    except ExtractError:
        return []
    blocks = []
    for document in found:
        for path, objects in object_lists(document, ()):
            fields = _matched(objects, visible)
            if "title" not in fields or "link" not in fields:
                continue
            for key, names in CANDIDATES.items():
                if key not in fields and (other := field_path(objects, names, key)):
                    fields[key] = other
            lines = [f"item = {json.dumps(expression(path))}"]
            lines += [f"{key} = {json.dumps(value)}" for key, value in fields.items()]
            reasons = [f"{len(objects)} objects at {expression(path)}"]
            reasons += [
                f"{key} at {fields[key]}: the stored {key}s" for key in MATCHED if key in fields
            ]
            blocks.append(("\n".join(lines) + "\n", float(len(objects)), reasons))
    return blocks


def _matched(objects: list[dict], visible: list[KnownItem]) -> dict[str, str]:
    """The paths whose values are the stored titles, links (their ends: APIs give relative
    links and slugs) and days, each the path most items agree on."""
    titles = {" ".join(item.title.split()).casefold() for item in visible}
    links = {item.link.rstrip("/") for item in visible}
    days = {item.published.date() for item in visible if item.published}
    votes: dict[str, Counter[str]] = {key: Counter() for key in MATCHED}
    for one in objects:
        for path, value in _paths(one, ()):
            text = str(value).strip()
            if isinstance(value, str) and " ".join(text.split()).casefold() in titles:
                votes["title"][path] += 1
            if isinstance(value, str) and text and _links_to(text, links):
                votes["link"][path] += 1
            if days and _day(value) in days:
                votes["date"][path] += 1
    return {key: counter.most_common(1)[0][0] for key, counter in votes.items() if counter}


def _links_to(text: str, links: set[str]) -> bool:
    """Whether a value is a stored link: the whole URL, its path, or its last part (a slug)."""
    text = text.rstrip("/")
    end = text if text.startswith("/") else "/" + text
    return any(link == text or link.endswith(end) for link in links)


def _day(value: Any) -> object:
    """The day a value names as a date, or None; only date-like text and epoch seconds are
    read (dateparser is slow, and an id is no date)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        text = str(value) if value > EPOCH_FLOOR else ""
    else:
        text = value if isinstance(value, str) and DATE_HINT.search(value) else ""
    parsed = parse_date(text, UTC, datetime.now(UTC)).value if text else None
    return parsed.date() if parsed else None


def _paths(value: Any, path: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
    """Every scalar inside an item with its JMESPath (nested objects, MAX_DEPTH deep)."""
    if isinstance(value, dict) and len(path) < MAX_DEPTH:
        for key, part in value.items():
            yield from _paths(part, (*path, key))
    elif path and isinstance(value, str | int | float):
        yield ".".join(key if IDENTIFIER.fullmatch(key) else json.dumps(key) for key in path), value
