"""The shard's connections (db/session.py) are back in their pool before the work that took
them ends, cancelled or not: the shard's shutdown cancels its background loops (the relay, the
share link uses' writer, the sweep), then disposes of the engine."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import QueuePool

from arkham_shard_packets.db.engine import create_engine
from arkham_shard_packets.db.session import Database

Way = Callable[[Database], AbstractAsyncContextManager[AsyncConnection]]
WAYS: dict[str, Way] = {
    "reading": lambda database: database.reading(),
    "autocommit": lambda database: database.autocommit(),
    "bulk writing": lambda database: database.writing(bulk=True),
}


@pytest.mark.parametrize("way", WAYS)
async def test_work_cancelled_while_giving_its_connection_back_ends_with_it_back(
    database_url: str, way: str
) -> None:
    """With SQLAlchemy before 2.0.55 the work ended at once and its connection went back a
    moment later: after the engine was disposed of, into the discarded pool, never closed; on
    SQLite its aiosqlite thread then answered into a closed event loop."""
    database = Database(create_engine(database_url))
    pool = database.engine.pool
    assert isinstance(pool, QueuePool)
    work: asyncio.Task[None] | None = None

    def cancel_the_work(*_: Any) -> None:
        # The pool resets a connection as it is given back: cancel the work right then, as
        # the shard's shutdown does to a background loop giving its connection back.
        assert work is not None
        work.cancel()

    async def use() -> None:
        async with WAYS[way](database) as connection:
            assert (await connection.execute(text("SELECT 1"))).scalar() == 1
            event.listen(database.engine.sync_engine, "reset", cancel_the_work, once=True)

    try:
        work = asyncio.create_task(use())
        with pytest.raises(asyncio.CancelledError):
            await work
        assert pool.checkedout() == 0
    finally:
        await database.dispose()
