"""The log of operator actions (hide, unhide, repair-apply, repair-undo, repair-drop): what was
done to the store, when, and to what."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection, Engine

from feedsvc.store.schema import operator_actions


@dataclass(frozen=True)
class OperatorAction:
    """One entry of `feedsvc history`."""

    at: datetime
    action: str
    detail: str


def record_action(conn: Connection, at: datetime, action: str, detail: str) -> None:
    """Log an action in the transaction that made it, so the log never tells of undone work."""
    conn.execute(insert(operator_actions).values(at=at, action=action, detail=detail))


class ActionStore:
    """Reads of the `operator_actions` table."""

    engine: Engine

    def operator_actions(self) -> list[OperatorAction]:
        """Every logged action, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    operator_actions.c.at, operator_actions.c.action, operator_actions.c.detail
                ).order_by(operator_actions.c.id)
            )
            return [OperatorAction(*row) for row in rows]
