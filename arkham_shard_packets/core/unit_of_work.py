"""A unit of work: one transaction, the scope it runs in, and the events it records."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Executable, RowMapping, Table
from sqlalchemy.ext.asyncio import AsyncConnection

from ..db.at_lock import FromLock
from ..db.row_inserts import (
    Derive,
    LockedInsert,
    RowInsert,
    RowLock,
    RowsInsert,
    RowUpdate,
    RowWrite,
)
from ..db.scope import Scope
from ..db.session import Database

if TYPE_CHECKING:
    from ..sealing.custody_chain import Head

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    event_type: str
    payload: dict[str, Any]


class EventSink(Protocol):
    """Where a unit of work's events go (the outbox and its relay): written in its
    transaction, then told that it committed."""

    async def record(
        self,
        conn: AsyncConnection,
        tenant_id: str | None,
        events: Sequence[Event],
        at_commit: Sequence[RowWrite],
    ) -> Sequence[Any]: ...

    async def committed(self, written: Sequence[Any]) -> None: ...


@dataclass
class UnitOfWork:
    conn: AsyncConnection
    scope: Scope
    events: list[Event] = field(default_factory=list)
    orphaned_files: set[str] = field(default_factory=set)
    # Files named by the row its `lock` returns, known once its statement ran (a removal's)
    orphaned_at_lock: list[FromLock] = field(default_factory=list)
    # Packets whose row this work holds locked, and the head of each custody log it knows
    # (None: an empty log, as for a packet it created): custody/log.py reads neither twice.
    locked_packets: set[str] = field(default_factory=set)
    custody_heads: dict[str, Head | None] = field(default_factory=dict)
    # Heads read by the statement that locked their packet, as that statement returned them
    # (records/locks.py; custody/log.py reads them as heads).
    heads_at_lock: dict[str, str | None] = field(default_factory=dict)
    # Rows nothing in this work reads back: written with its events at commit, in one
    # statement on PostgreSQL. A reader of their tables in the work flushes them first.
    at_commit: list[RowWrite] = field(default_factory=list)
    # The lock that statement takes first, when the work sends nothing before it: the rows
    # written at commit then hang on it (db/row_inserts.py, RowLock; records/locks.py).
    lock: RowLock | None = None

    def emit(self, event_type: str, **payload: Any) -> None:
        self.events.append(Event(event_type, payload))

    async def insert(
        self,
        table: Table,
        values: dict[str, Any],
        *,
        at_commit: bool = False,
        skip_duplicates: bool = False,
        derived: tuple[tuple[str, Derive], ...] = (),
    ) -> None:
        """Inserts one row the caller doesn't read; `at_commit`: with the events;
        `skip_duplicates`: not at all when it would break a unique constraint. After the
        work's `lock`, the row hangs on it, and `derived` are its columns computed from the
        locked row (LockedInsert)."""
        if self.lock is not None and at_commit and not skip_duplicates:
            await self._write(LockedInsert(table, values, derived), at_commit)
        elif derived:
            raise ValueError("only a row that hangs on the work's lock has derived columns")
        else:
            await self._write(RowInsert(table, values, skip_duplicates), at_commit)

    async def insert_each(
        self,
        table: Table,
        values: dict[str, Any],
        column: str,
        each: Sequence[Any],
        *,
        at_commit: bool = False,
        skip_duplicates: bool = False,
    ) -> None:
        """`insert` of a row for each of `each` in `column`, `values` in the other columns."""
        rows = RowsInsert(table, values, column, tuple(each), skip_duplicates)
        await self._write(rows, at_commit)

    async def update(
        self, table: Table, row_id: Any, values: dict[str, Any], *, at_commit: bool = False
    ) -> None:
        """Sets `values` on the row of `table` with id `row_id`, one of the scope's rows;
        `at_commit`: with the events (the caller reads the row no more)."""
        await self._write(RowUpdate(table, row_id, self.scope.tenants, values), at_commit)

    async def _write(self, row: RowWrite, at_commit: bool) -> None:
        if at_commit:
            if self.lock is not None and not isinstance(row, LockedInsert):
                raise RuntimeError("after a lock sent at commit, every row hangs on the lock")
            self.at_commit.append(row)
        else:
            self._sending()
            await row.execute(self.conn)

    def _sending(self) -> None:
        if self.lock is not None:
            raise RuntimeError("a work whose lock waits for its commit sends nothing before")

    async def flush(self) -> None:
        """Sends what waits for the commit now, for a statement that reads it."""
        if not self.at_commit:
            return
        self._sending()
        waiting, self.at_commit = self.at_commit, []
        for row in waiting:
            await row.execute(self.conn)

    async def first(
        self, statement: Executable, parameters: dict[str, Any] | None = None
    ) -> RowMapping | None:
        """The first row of a query, by column name, or None."""
        self._sending()
        return (await self.conn.execute(statement, parameters)).mappings().first()

    def enter(self, tenant_id: str | None) -> None:
        """The work acts on a packet of `tenant_id`, one its scope sees: from here on it reads
        and writes that tenant's rows only, and its events and new rows belong to it."""
        self.scope = self.scope.within(tenant_id)

    def orphan(self, *digests: str | FromLock) -> None:
        """Files this work stopped pointing at: released after commit if nothing else does.
        A FromLock: the digest in the row the work's lock returns, if any."""
        for digest in digests:
            if isinstance(digest, FromLock):
                self.orphaned_at_lock.append(digest)
            else:
                self.orphaned_files.add(digest)

    def orphans_found(self) -> set[str]:
        """The files named by the row the work's lock returned (none if it took no row)."""
        found = None if self.lock is None else self.lock.found
        if found is None:
            return set()
        named = (value.read(found) for value in self.orphaned_at_lock)
        return {digest for digest in named if digest is not None}


ReleaseFiles = Callable[[set[str]], Awaitable[None]]
WriteQueued = Callable[[], Awaitable[object]]


class Transactions:
    """The one owner of the shard's transactions: every unit of work begins and commits here,
    as a `write`, a `read`, or the `write_behind` of work queued after an answer."""

    def __init__(self, database: Database, events: EventSink) -> None:
        self._database = database
        self._events = events
        self._release_files: ReleaseFiles | None = None
        self._write_queued: WriteQueued | None = None

    def hook(self, *, release_files: ReleaseFiles, write_queued: WriteQueued) -> None:
        """What a unit of work calls outside its transaction, given once by the wiring (each
        works through these transactions, so exists only after them): `release_files`, after a
        commit, with the files the work stopped pointing at; `write_queued`, before every write
        and settled read, writes the work queued to be written after an answer (share link
        reads) that a later change of this process must not overtake, so the custody log keeps
        their order."""
        if self._release_files is not None or self._write_queued is not None:
            raise RuntimeError("the transactions' hooks are given once")
        self._release_files = release_files
        self._write_queued = write_queued

    def write(self, scope: Scope, *, bulk: bool = False) -> AbstractAsyncContextManager[UnitOfWork]:
        """Commits the block's changes with its events in the outbox; the relay delivers them
        after the answer. `bulk`: the work reads or writes many rows (db/session.py)."""
        return self._write(scope, bulk=bulk, after_queue=True)

    def write_behind(self, scope: Scope) -> AbstractAsyncContextManager[UnitOfWork]:
        """The write of work queued to be written after an answer (sharing/uses.py): as
        `write`, but without first waiting for that queue, which it is writing."""
        return self._write(scope, bulk=False, after_queue=False)

    @asynccontextmanager
    async def _write(
        self, scope: Scope, *, bulk: bool, after_queue: bool
    ) -> AsyncIterator[UnitOfWork]:
        if after_queue and self._write_queued is not None:
            await self._write_queued()
        async with self._database.writing(bulk=bulk) as conn:
            work = UnitOfWork(conn, scope)
            yield work
            # the work's scope, not the caller's: a share link switches it to the share's tenant
            written = await self._events.record(
                conn, work.scope.tenant_id, work.events, work.at_commit
            )
            work.orphaned_files |= work.orphans_found()
        if written:
            try:
                await self._events.committed(written)
            except Exception:
                logger.exception("the outbox relay was not told of a commit; its retry takes over")
        if work.orphaned_files and self._release_files is not None:
            try:
                await self._release_files(work.orphaned_files)
            except Exception:
                logger.exception("releasing unreferenced files failed; they stay on disk")

    @asynccontextmanager
    async def read(
        self, scope: Scope, *, settled: bool = False, bulk: bool = False
    ) -> AsyncIterator[UnitOfWork]:
        """`settled`: what this process queued to write after an answer (share link reads) is
        written first, for reads of the records it lands in (access logs, custody logs).
        `bulk`: the work reads many rows (db/session.py)."""
        if settled and self._write_queued is not None:
            await self._write_queued()
        async with self._database.reading(bulk=bulk) as conn:
            work = UnitOfWork(conn, scope)
            yield work
            if work.at_commit:
                raise RuntimeError("a read queued writes for a commit it never makes")
