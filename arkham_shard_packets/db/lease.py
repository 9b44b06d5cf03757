"""A lease that one holder at a time holds among the servers sharing the database: the
sweep's, so that one server sweeps a shared store while the others skip that round.

On PostgreSQL it is a session's advisory lock (`pg_try_advisory_lock`) on a connection of its
own, held for as long as the lease is and closed at its end, which ends the lock with it. On
SQLite, whose database only processes on one machine share, it is a lock (`flock`) on a file
beside the database, made with the database file's mode (as SQLite's `-wal` and `-shm` are).
Either way the holder's death ends it: the kernel drops a dead process's file locks, and
PostgreSQL a session's locks when its connection closes (at once for a killed process; for a
machine lost from the network, once PostgreSQL's TCP keepalive gives up on it). A database
SQLite alone places (in memory, at a `file:` URI) has no file here to lock beside: its lease
is always taken (two sweeps at once take nothing in use either, recovery.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text

from .session import Database

PRIVATE_FILE = 0o600


def lock_key(name: str) -> int:
    """The advisory lock's number for a lease name: 64 bits of its digest, signed."""
    digest = hashlib.sha256(f"arkham-packets lease {name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _take_file(path: str, database: str) -> int | None:
    """The lock on the file at `path` beside `database`, taken without waiting: its
    descriptor, or None."""
    try:
        mode = stat.S_IMODE(os.stat(database).st_mode) & 0o666
    except OSError:
        mode = PRIVATE_FILE
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, mode)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


class Lease:
    def __init__(self, database: Database, name: str) -> None:
        self.database = database
        self.name = name

    @property
    def database_file(self) -> str | None:
        """On SQLite, the database's file; None where SQLite alone places it."""
        path = self.database.engine.url.database
        if not path or path == ":memory:" or path.startswith("file:"):
            return None
        return path

    @property
    def lock_file(self) -> str | None:
        """On SQLite, the file locked beside the database; None where there is no file."""
        path = self.database_file
        return None if path is None else f"{path}-lease-{lock_key(self.name) & 0xFFFFFFFF:08x}"

    @asynccontextmanager
    async def held(self) -> AsyncIterator[bool]:
        """Whether this holder took the lease, which it keeps until the block ends; False while
        another holds it (nothing waits for it)."""
        if self.database.dialect == "sqlite":
            async with self._file_held() as mine:
                yield mine
            return
        async with self.database.dedicated() as connection:  # its end ends the lock
            statement = text("SELECT pg_try_advisory_lock(:key)")
            yield bool(await connection.scalar(statement, {"key": lock_key(self.name)}))

    @asynccontextmanager
    async def _file_held(self) -> AsyncIterator[bool]:
        path, database = self.lock_file, self.database_file
        if path is None or database is None:
            yield True
            return
        descriptor = _take_file(path, database)  # never waits: nothing can cut it short
        try:
            yield descriptor is not None
        finally:
            if descriptor is not None:
                with contextlib.suppress(OSError):
                    os.close(descriptor)
