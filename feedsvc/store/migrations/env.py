"""Alembic's entry point: feedsvc hands it a connection (feedsvc.store.migrate).

Run by hand only to write a revision: `alembic -c feedsvc/store/migrations/alembic.ini
-x url=sqlite:///var/feedsvc.sqlite3 revision --autogenerate -m "..."`.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from feedsvc.store.schema import metadata
from feedsvc.store.search_index import is_search_table


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = create_engine(context.get_x_argument(as_dictionary=True)["url"])
    with engine.connect() as connection:
        _migrate(connection)
        connection.commit()


def _not_search(name: str | None, kind: str, parents: dict) -> bool:
    return kind != "table" or not is_search_table(name or "")


def _migrate(connection: object) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        include_name=_not_search,  # the search index has its own DDL per database
    )
    with context.begin_transaction():
        context.run_migrations()


run()
