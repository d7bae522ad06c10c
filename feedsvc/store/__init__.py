"""The store: every table and every query; the only package that runs SQL.

One module per entity: `schema` (tables, creation and upgrades), `items` (the ingest's
write path and the reads feeds are made of), `sources` (status), `documents` (change
tracking and rendered bytes), and `reads`, the web tier's lookups in plain SQL that a
web worker runs through `reads.Reader` without SQLAlchemy. `engine.Store` puts them all
behind one SQLAlchemy engine; it is imported on first use, so `feedsvc.store.reads`
loads no SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from feedsvc.store.engine import Store, open_store


def __getattr__(name: str) -> Any:
    """`Store` and `open_store`, loaded (with SQLAlchemy) when first asked for."""
    if name in ("Store", "open_store"):
        from feedsvc.store import engine

        return getattr(engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Store", "open_store"]
