"""INSERT ... ON CONFLICT, which SQLAlchemy spells per dialect."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


def insert_or_skip(conn: AsyncConnection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An insert of `table` for this connection's dialect, on which `on_conflict_do_nothing`
    can be called."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
