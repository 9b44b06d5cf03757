"""SQLite in the event loop's own thread, for short transactions.

aiosqlite runs every statement in a thread of its own and wakes the event loop with the result,
so each statement of a transaction waits for its turn in the loop, behind every request being
served. SQLite's write lock is held from BEGIN to COMMIT: under load, most of its time was spent
waiting for those turns, and the writers behind it waited for all of them. SQLite statements of
a small transaction take microseconds, so here they run inline: the driver below has
aiosqlite's shape (what SQLAlchemy's aiosqlite dialect calls) but does the work in its
coroutines without suspending, and a write transaction holds the lock for its own statements
only. A short read runs here too: each statement in aiosqlite's thread cost it a turn of the
loop, so under load a read took five times what it takes here. The connection waits for no lock
(busy timeout 0): Database.writing() waits for another process's writer without blocking the
loop, and a read SQLite would make wait goes to aiosqlite. Reads and writes of many rows stay on
aiosqlite.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Generator, Iterable, Sequence
from typing import Any


class _Cursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    def __await__(self) -> Generator[Any, None, _Cursor]:
        """SQLAlchemy before 2.1 awaits `connection.cursor()`, as aiosqlite allows."""
        return self.__aenter__().__await__()

    async def __aenter__(self) -> _Cursor:
        return self

    async def __aexit__(self, *_: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> _Cursor:
        self._cursor.execute(sql, () if parameters is None else parameters)
        return self

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> _Cursor:
        self._cursor.executemany(sql, rows)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def setinputsizes(self, *_: object) -> None:
        return None

    async def close(self) -> None:
        self._cursor.close()


class _RunNow:
    """aiosqlite's queue of work for its thread, as SQLAlchemy uses it (to set the isolation
    level): the work is done at once."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:
            future.set_exception(error)


class InlineConnection:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection
        self._connection: sqlite3.Connection | None = connection
        self._tx = _RunNow()

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> _Cursor:
        return _Cursor(self._conn.cursor())

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self._connection = None
        self._conn.close()

    def stop(self) -> None:
        self._connection = None
        self._conn.close()


async def connect(path: str) -> InlineConnection:
    # Used by the loop's thread only; the pool may close it from another.
    return InlineConnection(sqlite3.connect(path, check_same_thread=False))
