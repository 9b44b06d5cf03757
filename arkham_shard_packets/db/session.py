"""Transactions on the shard's engine: one for each unit of work.

On SQLite one writer at a time holds the database's write lock, and the others wait in its
busy handler, which polls with growing sleeps (up to 100 ms each) and serves no one in order:
under concurrent writes most of a write's time was spent asleep. So the writers of a process
queue here, first come first served, and only the head of the queue asks SQLite for the lock
(other processes still meet in the busy handler). PostgreSQL's writers take row locks and
queue nowhere here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

READ_ONLY = "packets_read_only"
ALONE = "packets_alone"  # SQLite: no BEGIN; each statement commits on its own


class Database:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sqlite_writers = asyncio.Lock() if self.dialect == "sqlite" else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _turn(self) -> contextlib.AbstractAsyncContextManager[object]:
        """A write's turn: on SQLite its place in this process's queue of writers."""
        return self._sqlite_writers or contextlib.nullcontext()

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncConnection]:
        async with self._turn(), self.engine.begin() as connection:
            yield connection

    @asynccontextmanager
    async def alone(self) -> AsyncIterator[AsyncConnection]:
        """Statements that each stand alone: every one is its own transaction, with no BEGIN
        and COMMIT to send (on SQLite, its write lock is held for one statement at a time)."""
        async with self._turn(), self.engine.connect() as connection:
            options: dict[str, object] = {ALONE: True}
            if self.dialect == "postgresql":
                options["isolation_level"] = "AUTOCOMMIT"
            connection = await connection.execution_options(**options)
            async with connection.begin():
                yield connection

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        """A read. On PostgreSQL without BEGIN and COMMIT: under READ COMMITTED every statement
        sees its own snapshot, in a transaction or not, so one would add two round trips and no
        consistency. On SQLite, where they cost no round trip, the statements of a read share
        one snapshot."""
        async with self.engine.connect() as connection:
            options: dict[str, object] = {READ_ONLY: True}
            if self.dialect == "postgresql":
                options["isolation_level"] = "AUTOCOMMIT"
            connection = await connection.execution_options(**options)
            async with connection.begin():
                yield connection

    async def dispose(self) -> None:
        await self.engine.dispose()
