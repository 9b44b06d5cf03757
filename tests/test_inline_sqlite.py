"""The inline SQLite driver (db/inline_sqlite.py), driven through SQLAlchemy on a SQLite file of
its own, beside the aiosqlite engine it is made for: statements run in the event loop's thread
without giving the loop a turn, transactions commit and roll back, SQLite's errors arrive as
SQLAlchemy's, the driver waits for no lock, tasks using it at once get their own results, and
closing closes the file's connections. These need no PostgreSQL and run on either setting."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import (
    Column,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    event,
    exc,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from arkham_shard_packets.db.engine import create_engine, create_inline
from arkham_shard_packets.db.inline_sqlite import InlineConnection, connect
from arkham_shard_packets.db.options import READ_ONLY
from arkham_shard_packets.db.session import Database

T = TypeVar("T")

metadata = MetaData()
accounts = Table("accounts", metadata, Column("name", String, primary_key=True))
ledger = Table(
    "ledger",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("owner", String, ForeignKey("accounts.name"), nullable=False),
    Column("entry", Integer, nullable=False),
    UniqueConstraint("owner", "entry"),
)
OWNERS = [f"owner-{n}" for n in range(8)]


class Engines:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.threaded = create_engine(f"sqlite:///{path}")  # aiosqlite: a thread per connection
        inline = create_inline(self.threaded)
        assert inline is not None
        self.inline = inline
        for engine in (self.threaded, self.inline):
            event.listen(engine.sync_engine, "connect", register_thread_id)

    async def count(self, owner: str | None = None) -> int:
        """Rows committed, as a connection of the aiosqlite engine sees them."""
        query = select(func.count()).select_from(ledger)
        if owner is not None:
            query = query.where(ledger.c.owner == owner)
        async with self.threaded.connect() as conn:
            conn = await conn.execution_options(**{READ_ONLY: True})  # BEGIN, not IMMEDIATE
            return int((await conn.execute(query)).scalar_one())


def register_thread_id(dbapi_connection: Any, _record: Any) -> None:
    # Through SQLAlchemy's adapter to the driver's create_function.
    dbapi_connection.create_function("thread_id", 0, threading.get_ident)


@pytest.fixture
async def engines(tmp_path: Path) -> AsyncIterator[Engines]:
    made = Engines(tmp_path / "inline.db")
    async with made.threaded.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(insert(accounts), [{"name": owner} for owner in OWNERS])
    yield made
    await made.inline.dispose()
    await made.threaded.dispose()


class LoopTurns:
    """Counts the event loop's turns: a task that does nothing but come back."""

    def __init__(self) -> None:
        self.count = 0

    async def __aenter__(self) -> LoopTurns:
        self.task = asyncio.create_task(self._spin())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *_: object) -> None:
        self.task.cancel()

    async def _spin(self) -> None:
        while True:
            self.count += 1
            await asyncio.sleep(0)

    async def during(self, work: Awaitable[T]) -> tuple[T, int]:
        before = self.count
        result = await work
        return result, self.count - before


async def fifty_writes(conn: AsyncConnection, owner: str) -> int:
    """A write transaction of 50 inserts and a read, from BEGIN to COMMIT."""
    await conn.begin()
    for entry in range(50):
        await conn.execute(insert(ledger).values(owner=owner, entry=entry))
    counted = int((await conn.execute(select(func.count()).select_from(ledger))).scalar_one())
    await conn.commit()
    return counted


# -- in the loop's thread, not in aiosqlite's -------------------------------------------------


async def test_statements_run_in_the_event_loop_s_thread_and_aiosqlite_s_in_another(
    engines: Engines,
) -> None:
    here = threading.get_ident()
    async with engines.inline.begin() as conn:
        assert (await conn.execute(text("SELECT thread_id()"))).scalar_one() == here
    async with engines.threaded.begin() as conn:
        assert (await conn.execute(text("SELECT thread_id()"))).scalar_one() != here


async def test_a_transaction_gives_the_event_loop_no_turn_until_it_has_committed(
    engines: Engines,
) -> None:
    """SQLite's write lock is held from BEGIN to COMMIT: inline, no other task runs between
    them, while on aiosqlite every statement waits for a turn of the loop."""
    async with LoopTurns() as turns:
        async with engines.inline.connect() as conn:
            counted, inline_turns = await turns.during(fifty_writes(conn, OWNERS[0]))
        assert counted == 50
        assert inline_turns == 0
        async with engines.threaded.connect() as conn:
            counted, threaded_turns = await turns.during(fifty_writes(conn, OWNERS[1]))
        assert counted == 100
        assert threaded_turns >= 50  # the measure tells the two apart
    assert await engines.count() == 100


# -- transactions ---------------------------------------------------------------------------


async def test_a_commit_is_kept_and_seen_by_other_connections_only_once_committed(
    engines: Engines,
) -> None:
    async with engines.inline.connect() as conn:
        await conn.begin()
        await conn.execute(insert(ledger).values(owner=OWNERS[0], entry=1))
        assert await engines.count() == 0  # not committed yet
        await conn.commit()
    assert await engines.count() == 1


async def test_a_rollback_discards_the_transaction_s_writes(engines: Engines) -> None:
    async with engines.inline.connect() as conn:
        await conn.begin()
        await conn.execute(insert(ledger).values(owner=OWNERS[0], entry=1))
        await conn.rollback()
        await conn.begin()  # the connection is usable again
        await conn.execute(insert(ledger).values(owner=OWNERS[0], entry=2))
        await conn.commit()
    assert await engines.count() == 1


async def test_an_error_inside_the_transaction_rolls_all_of_it_back(engines: Engines) -> None:
    class Abandoned(Exception):
        pass

    with pytest.raises(Abandoned):
        async with engines.inline.begin() as conn:
            await conn.execute(insert(ledger).values(owner=OWNERS[0], entry=1))
            await conn.execute(insert(ledger).values(owner=OWNERS[0], entry=2))
            raise Abandoned
    assert await engines.count() == 0


async def test_sqlalchemy_decides_when_a_transaction_begins(engines: Engines) -> None:
    """The driver's connection is in autocommit (SQLAlchemy set its isolation level through
    the driver's stand-in for aiosqlite's queue): BEGIN is SQLAlchemy's, BEGIN IMMEDIATE for a
    write (db/engine.py), so a writer holds the lock from BEGIN, not from its first write."""
    async with engines.inline.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        assert isinstance(driver, InlineConnection)
        assert driver.isolation_level is None
        await conn.begin()
        # The lock is taken at BEGIN, before any write: another writer is refused at once.
        other = sqlite3.connect(engines.path, timeout=0, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()
        await conn.rollback()


# -- errors ---------------------------------------------------------------------------------


async def test_a_broken_unique_constraint_is_sqlalchemy_s_integrity_error(
    engines: Engines,
) -> None:
    with pytest.raises(exc.IntegrityError, match="UNIQUE constraint failed") as raised:
        async with engines.inline.begin() as conn:
            await conn.execute(insert(ledger).values(owner=OWNERS[0], entry=1))
            await conn.execute(insert(ledger).values(owner=OWNERS[0], entry=1))
    assert isinstance(raised.value.orig, sqlite3.IntegrityError)
    assert await engines.count() == 0  # the first insert went with the transaction
    async with engines.inline.begin() as conn:  # and the pool's connection still works
        await conn.execute(insert(ledger).values(owner=OWNERS[0], entry=1))
    assert await engines.count() == 1


async def test_a_broken_foreign_key_is_sqlalchemy_s_integrity_error(engines: Engines) -> None:
    with pytest.raises(exc.IntegrityError, match="FOREIGN KEY constraint failed"):
        async with engines.inline.begin() as conn:
            await conn.execute(insert(ledger).values(owner="nobody", entry=1))


async def test_bad_sql_is_sqlalchemy_s_operational_error(engines: Engines) -> None:
    with pytest.raises(exc.OperationalError, match="no such table"):
        async with engines.inline.begin() as conn:
            await conn.execute(text("SELECT * FROM no_such_table"))


async def test_an_error_setting_the_isolation_level_reaches_the_caller(
    engines: Engines,
) -> None:
    """SQLAlchemy sets the isolation level through aiosqlite's queue of work, which the driver
    runs at once: a failure there is raised, not lost in a future nobody reads."""

    def set_level(sync_conn: Any) -> None:
        sync_conn.connection.dbapi_connection.isolation_level = "NOT A LEVEL"

    async with engines.inline.connect() as conn:
        with pytest.raises(ValueError, match="isolation_level"):
            await conn.run_sync(set_level)


async def test_the_driver_waits_for_no_lock(engines: Engines) -> None:
    """Busy timeout 0: while another connection writes, BEGIN fails at once (Database.writing
    waits in short sleeps instead, leaving the loop free); the aiosqlite engine would wait in
    SQLite's busy handler."""
    async with engines.inline.connect() as conn:
        timeout = (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one()
        assert timeout == 0
        await conn.rollback()
    async with engines.threaded.begin() as holding:
        await holding.execute(insert(ledger).values(owner=OWNERS[0], entry=1))
        started = asyncio.get_running_loop().time()
        with pytest.raises(exc.OperationalError, match="database is locked"):
            async with engines.inline.begin():
                pass
        assert asyncio.get_running_loop().time() - started < 1.0
    async with engines.inline.begin() as conn:  # the lock is free again
        await conn.execute(insert(ledger).values(owner=OWNERS[0], entry=2))
    assert await engines.count() == 2


# -- aiosqlite's shape, as SQLAlchemy uses it -----------------------------------------------


async def test_many_rows_row_counts_new_keys_column_names_and_regexp(engines: Engines) -> None:
    async with engines.inline.begin() as conn:
        many = await conn.execute(
            insert(ledger), [{"owner": OWNERS[0], "entry": n} for n in range(10)]
        )
        assert many.rowcount == 10  # executemany
        one = await conn.execute(insert(ledger).values(owner=OWNERS[1], entry=0))
        assert one.lastrowid == 11
        assert one.inserted_primary_key == (11,)
        changed = await conn.execute(
            update(ledger).where(ledger.c.owner == OWNERS[0]).values(entry=ledger.c.entry + 100)
        )
        assert changed.rowcount == 10
        read = await conn.execute(select(ledger).where(ledger.c.id == 11))
        assert list(read.keys()) == ["id", "owner", "entry"]  # the cursor's description
        assert read.one() == (11, OWNERS[1], 0)
        # REGEXP is a Python function SQLAlchemy's SQLite dialect registers on connect.
        matched = await conn.execute(
            select(func.count()).select_from(ledger).where(ledger.c.owner.regexp_match("-1$"))
        )
        assert matched.scalar_one() == 1


async def test_a_server_side_cursor_fetches_in_batches(engines: Engines) -> None:
    async with engines.inline.begin() as conn:
        await conn.execute(insert(ledger), [{"owner": OWNERS[0], "entry": n} for n in range(25)])
        streamed = await conn.stream(
            select(ledger.c.entry).order_by(ledger.c.entry).execution_options(yield_per=10)
        )
        batches = [len(batch) async for batch in streamed.partitions()]
        assert batches == [10, 10, 5]


# -- several tasks at once ------------------------------------------------------------------


async def test_tasks_writing_at_once_each_see_their_own_writes(engines: Engines) -> None:
    """Eight tasks, twenty transactions each, on the inline engine with no queue in front of
    it: a transaction never gives the loop a turn, so none waits for another's lock (busy
    timeout 0 would refuse it) and each reads back exactly what it wrote."""

    async def writer(owner: str) -> list[int]:
        seen = []
        for entry in range(20):
            async with engines.inline.begin() as conn:
                await conn.execute(insert(ledger).values(owner=owner, entry=entry))
                mine = await conn.execute(
                    select(func.count()).select_from(ledger).where(ledger.c.owner == owner)
                )
                seen.append(int(mine.scalar_one()))
            await asyncio.sleep(0)
        return seen

    results = await asyncio.gather(*(writer(owner) for owner in OWNERS))
    assert results == [list(range(1, 21))] * len(OWNERS)
    assert await engines.count() == 20 * len(OWNERS)


async def test_tasks_whose_transactions_wait_take_turns_through_the_database(
    tmp_path: Path,
) -> None:
    """Transactions that give the loop a turn in the middle (as a write that awaits anything
    does) queue in Database.writing() and all commit, each seeing its own rows."""
    database = Database(create_engine(f"sqlite:///{tmp_path / 'queued.db'}"))
    try:
        async with database.writing() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.execute(insert(accounts), [{"name": owner} for owner in OWNERS])

        async def writer(owner: str) -> list[int]:
            seen = []
            for entry in range(5):
                async with database.writing() as conn:
                    await conn.execute(insert(ledger).values(owner=owner, entry=entry))
                    await asyncio.sleep(0)
                    mine = await conn.execute(
                        select(func.count()).select_from(ledger).where(ledger.c.owner == owner)
                    )
                    seen.append(int(mine.scalar_one()))
            return seen

        results = await asyncio.gather(*(writer(owner) for owner in OWNERS))
        assert results == [list(range(1, 6))] * len(OWNERS)
        async with database.reading() as conn:
            total = await conn.execute(select(func.count()).select_from(ledger))
            assert total.scalar_one() == 5 * len(OWNERS)
    finally:
        await database.dispose()


async def test_readers_at_once_fetch_their_own_rows(engines: Engines) -> None:
    """Server-side cursors of several connections, fetched in turns: each yields its own
    query's rows, in order."""
    async with engines.inline.begin() as conn:
        await conn.execute(
            insert(ledger), [{"owner": owner, "entry": n} for owner in OWNERS for n in range(30)]
        )

    async def reader(owner: str) -> list[int]:
        async with engines.inline.connect() as conn:
            conn = await conn.execution_options(**{READ_ONLY: True})
            rows = await conn.stream(
                select(ledger.c.entry)
                .where(ledger.c.owner == owner)
                .order_by(ledger.c.entry.desc())
                .execution_options(yield_per=4)
            )
            entries = []
            async for entry in rows.scalars():
                entries.append(entry)
                await asyncio.sleep(0)
            return entries

    results = await asyncio.gather(*(reader(owner) for owner in OWNERS))
    assert results == [list(range(29, -1, -1))] * len(OWNERS)


# -- closing --------------------------------------------------------------------------------


async def test_disposing_of_the_engine_closes_its_connections(engines: Engines) -> None:
    async with engines.inline.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        assert isinstance(driver, InlineConnection)
    await driver.cursor().close()  # back in the pool, still open
    await engines.inline.dispose()
    with pytest.raises(sqlite3.ProgrammingError, match="closed database"):
        driver.cursor()
    async with engines.inline.begin() as conn:  # the engine opens another when asked
        await conn.execute(insert(ledger).values(owner=OWNERS[0], entry=1))
    assert await engines.count() == 1


async def test_an_invalidated_connection_is_closed_and_replaced(engines: Engines) -> None:
    async with engines.inline.connect() as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert isinstance(driver, InlineConnection)
        raw.invalidate()  # what the pool does to a connection it can't trust
    with pytest.raises(sqlite3.ProgrammingError, match="closed database"):
        driver.cursor()
    async with engines.inline.begin() as conn:
        await conn.execute(insert(ledger).values(owner=OWNERS[0], entry=1))
    assert await engines.count() == 1


async def test_a_connection_may_be_closed_from_another_thread_and_twice(
    engines: Engines,
) -> None:
    """The pool may close a connection from another thread (its garbage collection)."""
    first = await connect(str(engines.path))
    await asyncio.to_thread(first.stop)
    with pytest.raises(sqlite3.ProgrammingError, match="closed database"):
        first.cursor()
    second = await connect(str(engines.path))
    await second.close()
    await second.close()
    with pytest.raises(sqlite3.ProgrammingError, match="closed database"):
        second.cursor()
