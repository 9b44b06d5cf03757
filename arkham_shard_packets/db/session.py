"""Transactions on the shard's engine: one for each unit of work.

On SQLite one writer at a time holds the database's write lock. The writers of a process take
turns here (db/turns.py), and only the one whose turn it is asks SQLite for the lock; it waits
for another process's writer here too, in short sleeps that leave the event loop free (SQLite's
own busy handler would block it). A short write runs its statements in the event loop's thread
(db/inline_sqlite.py), so the lock is held for the statements alone, and a short read does too,
on a snapshot taken as it begins; a bulk write (an import, a restore: many rows) or
read (an export, a check of every version) runs them in aiosqlite's thread, so the loop keeps
serving other requests meanwhile. PostgreSQL's writers take row locks and queue nowhere here.

Every connection is back in its pool before the work that took it ends, even when that work is
cancelled (a background loop stopped by the shard's shutdown), so the engine is disposed of
only once nothing is out: see `_connection`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import types
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from typing import Any, TypeVar, cast

from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .engine import create_inline
from .options import READ_ONLY
from .turns import WriterTurns

LOCK_POLL_S = (0.001, 0.05)  # first and longest sleep while another process writes
SNAPSHOT = "SELECT 1 FROM sqlite_master LIMIT 1"

T = TypeVar("T")


async def _to_the_end(work: Coroutine[Any, Any, T], *, eager: bool = False) -> T:
    """Runs `work` in a task of its own to its end, even when the caller is cancelled meanwhile;
    the cancellation is raised once `work` is done. `eager`: its first step runs at once, in
    the caller's task, and only the rest, once it waits, in a task: for work that usually never
    waits (giving a connection back to the pool), which then costs no turn of the event loop.
    Not for work that may enter a deadline (`asyncio.timeout`): the deadline would cancel the
    caller's task, not the one running the work."""
    if not eager:
        return await _shielded(asyncio.ensure_future(work))
    try:
        pending = work.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    return await _shielded(asyncio.ensure_future(_resumed(work, pending)))


async def _shielded(task: asyncio.Future[T]) -> T:
    """`task`'s result, waiting for its end even when cancelled meanwhile."""
    cancelled: asyncio.CancelledError | None = None
    while True:
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError as error:
            if task.done():
                raise
            cancelled = error
        else:
            break
    if cancelled is not None:
        raise cancelled
    return result


@types.coroutine
def _resumed(work: Coroutine[Any, Any, T], pending: Any) -> Generator[Any, None, T]:
    """The rest of `work`, whose last step handed `pending` (what it waits for) to the event
    loop: stepped as a task steps a coroutine, with what the task sends or throws into it."""
    while True:
        try:
            yield pending
        except GeneratorExit:
            work.close()
            raise
        except BaseException as error:
            step: Callable[[], Any] = partial(work.throw, error)
        else:
            step = partial(work.send, None)
        try:
            pending = step()
        except StopIteration as done:
            return cast(T, done.value)


async def _take(connection: AsyncConnection) -> None:
    """Takes the connection from the pool, in a task of its own run to the end: a caller
    cancelled meanwhile waits for it, then gives the connection back. Taking may open a
    connection under asyncpg's connect deadline (`asyncio.timeout`, which cancels the task that
    entered it): that task is the one connecting. On SQLite, aiosqlite's thread would finish a
    cancelled connect with no one left to close the connection. (Taken in the caller's task on
    PostgreSQL it saves a turn of the loop: withdrawn while a hang seen in CI is explained,
    docs/performance.md.)"""
    await _to_the_end(connection.start())


@asynccontextmanager
async def _connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """`engine.connect()`, with its connection back in the pool before this returns, also when
    the caller is cancelled while taking or giving it back. SQLAlchemy before 2.0.55 gives it
    back in a task of its own on leaving `async with engine.connect()` and, cancelled there,
    returns at once: a background loop stopped at that moment (the relay's, by the shard's
    shutdown) ended with its connection still out, the engine was disposed of, and the
    connection went back into the discarded pool, never closed, its aiosqlite thread left to
    answer into an event loop that had closed meanwhile."""
    connection = engine.connect()
    try:
        await _take(connection)
        yield connection
    finally:
        if connection.sync_connection is not None:
            # Waits at most for a ROLLBACK or a close, under no deadline (the engine sets no
            # command timeout); an idle connection is given back without waiting.
            await _to_the_end(connection.close(), eager=True)


@asynccontextmanager
async def alone(conn: AsyncConnection) -> AsyncIterator[None]:
    """The one statement sent in the block, when it is the first of its transaction on
    PostgreSQL, goes without BEGIN and COMMIT (a round trip each): one statement is atomic on
    its own, and the transaction then commits nothing more. Elsewhere the block runs as it is.
    The caller sends at most one statement in the block."""
    if conn.dialect.name != "postgresql":
        yield
        return
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    if driver is None or driver.is_in_transaction():
        yield
        return
    with _autocommitting(raw.dbapi_connection):
        yield


@contextlib.contextmanager
def _autocommitting(adapted: Any) -> Iterator[None]:
    """PostgreSQL: statements each commit on their own, the driver's adapter (`adapted`)
    sending no BEGIN before them. SQLAlchemy's isolation level option sets the same flag, after
    work of its own on the way in and again on the way back to the pool."""
    if adapted is None or adapted.autocommit:
        yield
        return
    adapted.autocommit = True
    try:
        yield
    finally:
        adapted.autocommit = False


@asynccontextmanager
async def _begun(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """`engine.begin()` on a connection of `_connection`."""
    async with _connection(engine) as connection, connection.begin():
        yield connection


@asynccontextmanager
async def _begun_inline(engine: AsyncEngine, option: str | None) -> AsyncIterator[AsyncConnection]:
    """`_begun` on an inline engine (db/inline_sqlite.py), whose driver never suspends: nor do
    taking, beginning, ending and giving back its connection, so nothing can cancel them midway
    and they need no task of their own (`_to_the_end`, SQLAlchemy's `__aexit__`), each of which
    would cost a turn of the event loop behind every request being served (a writer's with
    SQLite's write lock held). `option`: an execution option db/engine.py's BEGIN reads."""
    connection = engine.connect()
    await connection.start()
    try:
        if option is not None:
            connection = await connection.execution_options(**{option: True})
        async with connection.begin():
            yield connection
    finally:
        await connection.close()


async def _snapshot_taken(connection: AsyncConnection) -> bool:
    """Takes a read's snapshot at once (its first read of the file): False when SQLite would
    have the event loop's thread wait for it (another process recovering or checkpointing the
    database), and the read then goes through aiosqlite's thread, which may wait."""
    try:
        await connection.exec_driver_sql(SNAPSHOT)
    except exc.OperationalError as error:
        if "database is locked" not in str(error):
            raise
        return False
    return True


class Database:
    def __init__(self, engine: AsyncEngine, *, sqlite_busy_timeout_ms: int = 30_000) -> None:
        self.engine = engine
        self.inline = create_inline(engine)
        self.inline_reader = create_inline(engine)
        self._sqlite_writers = WriterTurns() if self.dialect == "sqlite" else None
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
            async with self._turn(), _begun(self.engine) as connection:
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
                return await stack.enter_async_context(_begun_inline(self.inline, None))
            except exc.OperationalError as error:
                if "database is locked" not in str(error) or time.monotonic() >= deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, longest)

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A block of one statement, committed on its own: on PostgreSQL with no BEGIN and
        COMMIT to send; on SQLite, where they cost nothing, a short write (`writing`)."""
        if self.dialect == "sqlite":
            async with self.writing() as connection:
                yield connection
            return
        async with self._connected(None) as connection:
            yield connection

    @asynccontextmanager
    async def dedicated(self) -> AsyncIterator[AsyncConnection]:
        """A connection of its own in autocommit, for a session's state that must end with it
        (db/lease.py's advisory lock): closed at the end, never given back to the pool."""
        async with _connection(self.engine) as connection:
            try:
                yield await connection.execution_options(isolation_level="AUTOCOMMIT")
            finally:
                await connection.invalidate()

    @asynccontextmanager
    async def reading(self, *, bulk: bool = False) -> AsyncIterator[AsyncConnection]:
        """A read. On PostgreSQL without BEGIN and COMMIT: under READ COMMITTED every statement
        sees its own snapshot, in a transaction or not, so one would add two round trips and no
        consistency. On SQLite, where they cost no round trip, the statements of a read share
        one snapshot, and a short read runs them in the event loop's thread as a short write
        does; `bulk` (a read of many rows: an export, a check of every version) runs them in
        aiosqlite's thread, so the loop keeps serving other requests meanwhile."""
        if self.inline_reader is not None and not bulk:
            async with _begun_inline(self.inline_reader, READ_ONLY) as connection:
                if await _snapshot_taken(connection):
                    yield connection
                    return
        async with self._connected(READ_ONLY) as connection:
            yield connection

    @asynccontextmanager
    async def _connected(self, option: str | None) -> AsyncIterator[AsyncConnection]:
        """A connection in autocommit on PostgreSQL; elsewhere in a transaction, with `option`
        set (db/engine.py's BEGIN reads it)."""
        async with _connection(self.engine) as connection:
            if self.dialect == "postgresql":
                with _autocommitting((await connection.get_raw_connection()).dbapi_connection):
                    yield connection
                return
            if option is not None:
                connection = await connection.execution_options(**{option: True})
            async with connection.begin():
                yield connection

    async def dispose(self) -> None:
        for inline in (self.inline, self.inline_reader):
            if inline is not None:
                await inline.dispose()
        await self.engine.dispose()
