"""Name the closest known slugs when a URL asks for one that does not exist."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from slugify import slugify

MAX_SUGGESTIONS = 3
MAX_LISTED = 10


def unknown(kind: str, value: str, known: Iterable[str]) -> str:
    """ "unknown type 'Report'; did you mean 'report'?", or the known slugs when none is close."""
    slugs = sorted(set(known))
    close = difflib.get_close_matches(slugify(value) or value, slugs, MAX_SUGGESTIONS, 0.6)
    message = f"unknown {kind} {value!r}"
    if close:
        return f"{message}; did you mean {' or '.join(repr(s) for s in close)}?"
    if slugs:
        listed = ", ".join(slugs[:MAX_LISTED]) + (", ..." if len(slugs) > MAX_LISTED else "")
        return f"{message}; expected one of: {listed}"
    return message
