"""Alembic migrations of the store; `feedsvc.store.migrate` runs them (see docs/deploying.md)."""
