"""Transactions on the shard's engine: one for each unit of work.

On SQLite one writer at a time holds the database's write lock. The writers of a process
queue here, first come first served, and only the head of the queue asks SQLite for the lock;
it waits for another process's writer here too, in short sleeps that leave the event loop free
(SQLite's own busy handler would block it). A short write runs its statements in the event
loop's thread (db/inline_sqlite.py), so the lock is held for the statements alone; a bulk write
(an import, a seal, a restore: many rows) runs them in aiosqlite's thread, so the loop keeps
serving reads meanwhile. PostgreSQL's writers take row locks and queue nowhere here.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .engine import create_inline_writer
from .options import AUTOCOMMIT, READ_ONLY

LOCK_POLL_S = (0.001, 0.05)  # first and longest sleep while another process writes


class Database:
    def __init__(self, engine: AsyncEngine, *, sqlite_busy_timeout_ms: int = 30_000) -> None:
        self.engine = engine
        self.inline = create_inline_writer(engine)
        self._sqlite_writers = asyncio.Lock() if self.dialect == "sqlite" else None
        self._busy_timeout_s = sqlite_busy_timeout_ms / 1000

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _turn(self) -> contextlib.AbstractAsyncContextManager[object]:
        """A write's turn: on SQLite its place in this process's queue of writers."""
        return self._sqlite_writers or contextlib.nullcontext()

    @asynccontextmanager
    async def writing(self, *, bulk: bool = False) -> AsyncIterator[AsyncConnection]:
        if self.inline is None or bulk:
            async with self._turn(), self.engine.begin() as connection:
                yield connection
            return
        async with self._turn(), AsyncExitStack() as stack:
            yield await self._begin_inline(stack)

    async def _begin_inline(self, stack: AsyncExitStack) -> AsyncConnection:
        """BEGIN IMMEDIATE on the inline engine, waiting while another process writes."""
        assert self.inline is not None
        deadline = time.monotonic() + self._busy_timeout_s
        pause, longest = LOCK_POLL_S
        while True:
            try:
                return await stack.enter_async_context(self.inline.begin())
            except exc.OperationalError as error:
                if "database is locked" not in str(error) or time.monotonic() >= deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, longest)

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """Autocommit: every statement is its own transaction, with no BEGIN and COMMIT to
        send (on SQLite, its write lock is held for one statement at a time)."""
        async with self._turn(), self._connected(AUTOCOMMIT) as connection:
            yield connection

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        """A read. On PostgreSQL without BEGIN and COMMIT: under READ COMMITTED every statement
        sees its own snapshot, in a transaction or not, so one would add two round trips and no
        consistency. On SQLite, where they cost no round trip, the statements of a read share
        one snapshot."""
        async with self._connected(READ_ONLY) as connection:
            yield connection

    @asynccontextmanager
    async def _connected(self, option: str) -> AsyncIterator[AsyncConnection]:
        """A connection with `option` set (db/engine.py's BEGIN reads it), in autocommit on
        PostgreSQL."""
        async with self.engine.connect() as connection:
            options: dict[str, object] = {option: True}
            if self.dialect == "postgresql":
                options["isolation_level"] = "AUTOCOMMIT"
            connection = await connection.execution_options(**options)
            async with connection.begin():
                yield connection

    async def dispose(self) -> None:
        if self.inline is not None:
            await self.inline.dispose()
        await self.engine.dispose()
