"""The shard's connections (db/session.py) are back in their pool before the work that took
them ends, cancelled or not: the shard's shutdown cancels its background loops (the relay, the
share link uses' writer, the sweep), then disposes of the engine. On SQLite, short reads and
writes run in the event loop's thread and bulk ones in aiosqlite's, and a read's snapshot is
taken as it begins."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import QueuePool

from arkham_shard_packets.db import session
from arkham_shard_packets.db.engine import create_engine
from arkham_shard_packets.db.session import Database

from .conftest import POSTGRES_URL

Way = Callable[[Database], AbstractAsyncContextManager[AsyncConnection]]
WAYS: dict[str, Way] = {
    "reading": lambda database: database.reading(),
    "bulk reading": lambda database: database.reading(bulk=True),
    "autocommit": lambda database: database.autocommit(),
    "writing": lambda database: database.writing(),
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
    work: asyncio.Task[None] | None = None
    engines: list[AsyncEngine] = []

    def cancel_the_work(*_: Any) -> None:
        # The pool resets a connection as it is given back: cancel the work right then, as
        # the shard's shutdown does to a background loop giving its connection back.
        assert work is not None
        work.cancel()

    async def use() -> None:
        async with WAYS[way](database) as connection:
            assert (await connection.execute(text("SELECT 1"))).scalar() == 1
            engines.append(connection.engine)  # SQLite's short work has an engine of its own
            event.listen(connection.engine.sync_engine, "reset", cancel_the_work, once=True)

    try:
        work = asyncio.create_task(use())
        with pytest.raises(asyncio.CancelledError):
            await work
        pool = engines[0].pool
        assert isinstance(pool, QueuePool)
        assert pool.checkedout() == 0
    finally:
        await database.dispose()


async def turns_during(work: Callable[[], Any]) -> tuple[Any, int]:
    """What `work()` returned, and the turns the event loop took while it ran."""
    turns = 0

    async def spin() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    spinner = asyncio.create_task(spin())
    await asyncio.sleep(0)
    try:
        before = turns
        result = await work()
        return result, turns - before
    finally:
        spinner.cancel()


async def thread_of(database: Database, way: Way) -> tuple[int, int]:
    """The thread a way's statements ran in, and the turns the event loop took meanwhile."""

    async def statements() -> int:
        async with way(database) as connection:
            for _ in range(5):
                found = await connection.execute(text("SELECT thread_id() FROM packets_seen"))
            return int(found.scalar_one())

    thread, turns = await turns_during(statements)
    return int(thread), turns


@pytest.fixture
async def sqlite_database(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(create_engine(f"sqlite:///{tmp_path / 'ways.db'}"))
    for engine in (database.engine, database.inline, database.inline_reader):
        assert engine is not None
        event.listen(engine.sync_engine, "connect", register_thread_id)
    async with database.writing() as connection:
        await connection.execute(text("CREATE TABLE packets_seen (n INTEGER)"))
        await connection.execute(text("INSERT INTO packets_seen VALUES (1)"))
    yield database
    await database.dispose()


def register_thread_id(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.create_function("thread_id", 0, threading.get_ident)


async def test_sqlite_s_short_work_runs_in_the_loop_s_thread_and_bulk_work_in_aiosqlite_s(
    sqlite_database: Database,
) -> None:
    """A short read or write gives the event loop no turn from its BEGIN to its end; a bulk
    one runs its statements in aiosqlite's thread, a turn of the loop each."""
    here = threading.get_ident()
    for name in ("reading", "writing", "autocommit"):
        assert await thread_of(sqlite_database, WAYS[name]) == (here, 0), name
    for name in ("bulk reading", "bulk writing"):
        thread, turns = await thread_of(sqlite_database, WAYS[name])
        assert thread != here and turns >= 5, name


async def test_a_short_read_that_sqlite_would_make_wait_goes_to_aiosqlite_s_thread(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When SQLite refuses the read's snapshot at once (another process recovering or
    checkpointing the database: SQLite's busy handler would block the event loop), the read
    gives its inline connection back and runs in aiosqlite's thread, which may wait."""
    asked: list[AsyncConnection] = []

    async def refused(connection: AsyncConnection) -> bool:
        asked.append(connection)
        return False

    monkeypatch.setattr(session, "_snapshot_taken", refused)
    thread, _ = await thread_of(sqlite_database, WAYS["reading"])
    assert thread != threading.get_ident()
    assert len(asked) == 1 and asked[0].engine is sqlite_database.inline_reader
    assert sqlite_database.inline_reader is not None
    pool = sqlite_database.inline_reader.pool
    assert isinstance(pool, QueuePool) and pool.checkedout() == 0


async def test_a_read_s_snapshot_is_taken_before_its_first_statement(
    sqlite_database: Database,
) -> None:
    """A short read sees the database as it was when it began, whatever commits meanwhile."""
    async with sqlite_database.reading() as connection:
        async with sqlite_database.writing() as writer:
            await writer.execute(text("INSERT INTO packets_seen VALUES (2)"))
        seen = await connection.execute(text("SELECT count(*) FROM packets_seen"))
        assert seen.scalar_one() == 1
    async with sqlite_database.reading() as connection:
        seen = await connection.execute(text("SELECT count(*) FROM packets_seen"))
        assert seen.scalar_one() == 2


@pytest.mark.skipif(not POSTGRES_URL, reason="aiosqlite's connections are given back in its thread")
async def test_an_idle_connection_is_given_back_without_a_turn_of_the_loop() -> None:
    """Giving a connection back to the pool never waits here: it runs at once, not in a task of
    its own that the event loop would start a turn later."""
    assert POSTGRES_URL
    database = Database(create_engine(POSTGRES_URL))
    try:
        taken = session._connection(database.engine)
        await taken.__aenter__()
        assert await turns_during(lambda: taken.__aexit__(None, None, None)) == (False, 0)
        pool = database.engine.pool
        assert isinstance(pool, QueuePool) and pool.checkedout() == 0
    finally:
        await database.dispose()


@pytest.mark.parametrize("eager", [False, True])
async def test_work_that_waits_is_finished_when_its_caller_is_cancelled(eager: bool) -> None:
    """Work runs in a task of its own (eager: once it waits): a caller cancelled meanwhile waits
    for its end, its value lost, then raises the cancellation; errors reach the caller."""
    steps: list[str] = []
    release = asyncio.Event()

    async def work() -> str:
        steps.append("began")
        await release.wait()
        await asyncio.sleep(0)
        steps.append("ended")
        return "done"

    caller = asyncio.create_task(session._to_the_end(work(), eager=eager))
    for _ in range(3):
        await asyncio.sleep(0)
    assert steps == ["began"]
    caller.cancel()
    await asyncio.sleep(0)
    assert not caller.done()  # it waits for the work
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert steps == ["began", "ended"]

    steps.clear()
    assert await session._to_the_end(work(), eager=eager) == "done"  # released already
    assert steps == ["began", "ended"]

    async def fails() -> None:
        await asyncio.sleep(0)
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        await session._to_the_end(fails(), eager=eager)


async def test_a_deadline_entered_by_work_run_to_the_end_ends_that_work() -> None:
    """Taking a connection may open one under asyncpg's connect deadline (`asyncio.timeout`,
    which cancels the task that entered it): run in a task of its own from its first step, the
    work times out, not its caller."""

    async def connect() -> None:
        # what asyncio.timeout (Python 3.11) does: cancel the task that entered it, then answer
        # TimeoutError in its place
        entered_by = asyncio.current_task()
        assert entered_by is not None
        deadline = asyncio.get_running_loop().call_later(0.01, entered_by.cancel)
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            raise TimeoutError from None
        finally:
            deadline.cancel()

    with pytest.raises(TimeoutError):
        await session._to_the_end(connect())


@pytest.mark.skipif(not POSTGRES_URL, reason="counts the server's connections")
async def test_a_take_cancelled_at_any_moment_leaves_no_connection_open() -> None:
    """A caller cancelled at any moment while a connection is opened for it: nothing is left
    checked out, and once the engine is disposed of no connection of it is left on the
    server."""
    assert POSTGRES_URL
    name = f"take-{uuid.uuid4().hex[:12]}"
    url = f"{POSTGRES_URL}?options=-c%20application_name%3D{name}"
    full = await _a_whole_take(url)
    opened = 0
    for step in range(41):
        database = Database(create_engine(url))
        taken = session._connection(database.engine)
        taking = asyncio.create_task(taken.__aenter__())
        await asyncio.sleep(full * step / 30)
        taking.cancel()
        try:
            await taking
        except asyncio.CancelledError:
            pass
        else:
            opened += 1
            await taken.__aexit__(None, None, None)
        pool = database.engine.pool
        assert isinstance(pool, QueuePool) and pool.checkedout() == 0
        await database.dispose()
    assert 0 < opened < 41  # the last steps let the take finish
    gc.collect()
    looking = Database(create_engine(POSTGRES_URL))
    try:
        async with looking.autocommit() as connection:
            for _ in range(50):
                left = await connection.scalar(
                    text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"),
                    {"name": name},
                )
                if left == 0:
                    break
                await asyncio.sleep(0.05)
    finally:
        await looking.dispose()
    assert left == 0


async def _a_whole_take(url: str) -> float:
    """How long taking a connection that has to be opened takes, at most of three."""
    longest = 0.0
    for _ in range(3):
        database = Database(create_engine(url))
        began = time.perf_counter()
        async with database.reading():
            longest = max(longest, time.perf_counter() - began)
        await database.dispose()
    return longest


async def test_a_connect_past_its_deadline_times_out_in_the_caller() -> None:
    """A take that opens a connection under asyncpg's connect deadline ends with the deadline's
    TimeoutError (the outage's 503), not with its caller cancelled."""

    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        await reader.read()  # accepts and never answers

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    engine = create_async_engine(
        f"postgresql+asyncpg://postgres@127.0.0.1:{port}/test", connect_args={"timeout": 0.2}
    )
    database = Database(engine)
    try:
        with pytest.raises(TimeoutError):
            async with database.reading() as connection:
                await connection.execute(text("SELECT 1"))
        await asyncio.sleep(0.3)  # a caller the deadline had cancelled would be cancelled here
    finally:
        await database.dispose()
        server.close()
        for writer in accepted:  # closed here, not by the collector during a later test
            writer.close()
            await writer.wait_closed()
        await server.wait_closed()
