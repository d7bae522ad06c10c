"""Which charset a page's bytes are in. Pure: pages often lie about it, so the bytes decide."""

from __future__ import annotations

import codecs
import re

META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def page_encoding(body: bytes, declared: str | None) -> str:
    """The charset to read a page in; pages often lie about it, so the bytes have the last word.

    A byte order mark wins; then bytes that are valid UTF-8 are read as UTF-8 whatever
    the label says (UTF-8 labelled ISO-8859-1 is the usual lie); otherwise the header's
    charset, then the <meta> one, then UTF-8 with each bad byte as U+FFFD.
    """
    for mark, codec in BYTE_ORDER_MARKS:
        if body.startswith(mark):
            return codec
    try:
        body.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    meta = META_CHARSET.search(body[:4096])
    for label in (declared, meta.group(1).decode("ascii") if meta else None):
        codec = _codec(label)
        if codec and codec != "utf-8":
            return codec
    return "utf-8"


def _codec(label: str | None) -> str | None:
    """Python's codec for a charset label, None when unknown; Latin-1 reads as windows-1252."""
    try:
        name = codecs.lookup(label or "").name
    except LookupError:
        return None
    return "cp1252" if name in ("iso8859-1", "ascii") else name  # as browsers do (WHATWG)
