"""An item's search key: its rowid in SQLite's full-text index (search_index.py).

FTS5 can only walk its matches in rowid order, so the rowid is ordered as the feeds are: the
minute of the item's order key in the high bits, its id in the low 31 (ids are PostgreSQL
INTEGERs, below 2**31). Walking the keys from the top meets the matches newest first, so a
search stops after its answer instead of ranking every match (search_reads.py). An order key
never changes once stored, and so neither does the key. No SQLAlchemy here: the web tier's
searches read these too.
"""

from __future__ import annotations

from datetime import UTC, datetime

ID_BITS = 31
ID_MASK = (1 << ID_BITS) - 1
MINUTE_MASK = -(1 << ID_BITS)  # clears the id: the lowest key of a minute
_MINUTE_FIELDS = ((0, 4), (4, 6), (6, 8), (8, 10), (10, 12))  # YYYYMMDDHHMM of an order key


def search_key(item_id: int, order_key: str) -> int:
    """An item's rowid in SQLite's index: ordered as its order key is, to the minute."""
    minute = datetime(*(int(order_key[a:b]) for a, b in _MINUTE_FIELDS), tzinfo=UTC)
    return (int(minute.timestamp()) // 60) << ID_BITS | item_id
