"""Bringing a database to the newest schema at start-up.

A database already there is recognised by one SELECT, without loading Alembic and the
templating it pulls in (about 11 MB in every server process); only a database that needs
migrating loads `db.migrate`.
"""

from __future__ import annotations

from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from .revision import HEAD_REVISION, VERSION_TABLE


def _stored_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


async def stored_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(_stored_revision)


async def ensure_newest(engine: AsyncEngine) -> None:
    if await stored_revision(engine) == HEAD_REVISION:
        return
    from . import migrate

    await migrate.upgrade(engine)
