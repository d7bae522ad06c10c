"""Alembic migrations: every layout in the wild reaches the code's tables, on both databases.

An empty store is made by the revisions alone, and must then match `schema.metadata`
exactly (Alembic's own comparison): a column added to the code without a revision fails
here. A store made before Alembic is recognised by its layout, stamped and upgraded.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from feedsvc.keys import FeedKey
from feedsvc.store import Store
from feedsvc.store.migrate import alembic_config, current_revision
from feedsvc.store.schema import metadata
from feedsvc.store.search_index import is_search_table

pytestmark = pytest.mark.both_databases


@pytest.fixture
def url(tmp_path: Path, database_url: str) -> str:
    """The database URL, a SQLite file in this test's folder when on SQLite."""
    return (
        f"sqlite:///{tmp_path}/store.sqlite3" if database_url.startswith("sqlite") else database_url
    )


def head() -> str:
    with create_engine("sqlite://").connect() as conn:
        return ScriptDirectory.from_config(alembic_config(conn)).get_current_head()


def _not_search(name: str | None, kind: str, parents: dict) -> bool:
    return kind != "table" or not is_search_table(name or "")


def differences(url: str) -> list:
    engine = create_engine(url)
    with engine.connect() as conn:
        # The search index is made by its own DDL per database (store/search_index.py).
        context = MigrationContext.configure(conn, opts={"include_name": _not_search})
        found = compare_metadata(context, metadata)
    engine.dispose()
    return found


def test_a_new_store_is_made_by_the_revisions_and_matches_the_code(url: str) -> None:
    store = Store(url)
    store.create_schema()
    store.create_schema()  # a second start finds nothing to do
    with store.engine.connect() as conn:
        assert current_revision(conn) == head()
    store.close()
    assert differences(url) == []


@pytest.mark.parametrize("layout", ["0001", "0002", "0003"])
def test_a_store_made_before_alembic_is_recognised_and_upgraded(url: str, layout: str) -> None:
    """Each revision up to 0003 is a layout an older feedsvc made without a version table."""
    engine = create_engine(url)
    with engine.connect() as conn:
        command.upgrade(alembic_config(conn), layout)
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(
            text(
                "INSERT INTO sources (id, topic, url, items_on_page, items_found) "
                "VALUES (1, 't', 'http://127.0.0.1/x', 0, 0)"
            )
        )
        conn.execute(
            text("INSERT INTO feeds (key, changed_at, dirty) VALUES ('topics/t', :now, false)"),
            {"now": "2024-01-01 00:00:00"},
        )
        conn.commit()
    engine.dispose()
    store = Store(url)
    store.create_schema()
    assert [s.url for s in store.sources()] == ["http://127.0.0.1/x"]
    # Rendered bytes are a cache: a layout whose cache changed shape renders everything again.
    assert store.dirty_feeds() == ([] if layout == "0003" else [FeedKey(topic="t")])
    with store.engine.connect() as conn:
        assert current_revision(conn) == head()
    store.close()
    assert differences(url) == []


def test_processes_migrating_at_once_take_turns(url: str) -> None:
    """Hosts start together: each waits for the lock, then finds the work done."""
    errors: list[BaseException] = []

    def migrate() -> None:
        store = Store(url)
        try:
            store.create_schema()
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=migrate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert differences(url) == []
