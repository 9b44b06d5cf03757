"""Building the async engine: which URL, which driver, and SQLite's connection settings."""

from __future__ import annotations

import contextlib
import os
import shlex
import stat
import time
from functools import partial
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from .inline_sqlite import connect as connect_inline
from .options import READ_ONLY

ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
PRIVATE_FILE = 0o600  # core/file_modes.py's default: the database is as private as the data
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def to_async_url(url: str) -> URL:
    """`postgresql://` (or `+psycopg2`) becomes asyncpg; `sqlite://` becomes aiosqlite."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in ASYNC_DRIVERS:
        raise ValueError(f"unsupported database '{backend}': use PostgreSQL or SQLite")
    return parsed.set(drivername=ASYNC_DRIVERS[backend])


# Every statement of the shard reads or writes a page of rows through an index. A search's few
# index scans, estimated dear on a large table, drew a parallel plan: starting its workers took
# 20 ms for 0.2 ms of work (x2.8 from 500 to 100,000 packets). A URL's `options` can set it back.
POSTGRES_DEFAULTS = {"max_parallel_workers_per_gather": "0"}


def server_settings(url: URL) -> tuple[URL, dict[str, str]]:
    """libpq's `options` query parameter (`-c name=value ...`, as psycopg URLs carry it, e.g.
    a search_path) taken out of the URL, as the server settings asyncpg wants instead."""
    if "options" not in url.query:
        return url, {}
    raw = url.query["options"]
    text = raw if isinstance(raw, str) else " ".join(raw)
    settings: dict[str, str] = {}
    words = iter(shlex.split(text))
    for word in words:
        setting = next(words, "") if word == "-c" else word.removeprefix("-c").removeprefix("--")
        name, sep, value = setting.partition("=")
        if not sep or not name:
            raise ValueError(f"can't read '{text}' in the URL's options: use -c name=value")
        settings[name.replace("-", "_")] = value
    return url.difference_update_query(["options"]), settings


def private_sqlite_file(path: str | None, mode: int = PRIVATE_FILE) -> None:
    """Makes SQLite's database file with `mode` before SQLite does (it would give it 0644; its
    -wal and -shm files take the database file's mode), or narrows an existing one, and its
    side files, to `mode`. A database SQLite alone can place (in memory, a `file:` URI, in a
    folder that isn't there) is left to it, and to its own error.

    An existing file is never opened here, only changed by its path: closing any descriptor of
    a database file drops every POSIX lock this process holds on it, SQLite's own included, and
    another engine of this process may have it open (the classic way to corrupt a database)."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    with contextlib.suppress(OSError):  # there already (narrowed below), or SQLite's to refuse
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
    for name in (path, *(path + suffix for suffix in SQLITE_SIDE_FILES)):
        try:
            current = stat.S_IMODE(os.stat(name).st_mode)
            if current & ~mode:
                os.chmod(name, current & mode)
        except OSError:
            continue


def create_engine(
    url: str, *, sqlite_busy_timeout_ms: int = 30_000, file_mode: int = PRIVATE_FILE
) -> AsyncEngine:
    """`file_mode`: the widest mode of a SQLite database's files (private_sqlite_file)."""
    async_url = to_async_url(url)
    options: dict[str, Any] = {}
    if async_url.get_backend_name() == "sqlite":
        private_sqlite_file(async_url.database, file_mode)
        options["connect_args"] = {"timeout": sqlite_busy_timeout_ms / 1000}
    else:
        async_url, settings = server_settings(async_url)
        options["connect_args"] = {"server_settings": {**POSTGRES_DEFAULTS, **settings}}
        options.update(pool_size=10, max_overflow=10)
    engine = create_async_engine(async_url, **options)
    if async_url.get_backend_name() == "sqlite":
        _configure_sqlite(engine, sqlite_busy_timeout_ms)
    else:
        _configure_postgres(engine)
    return engine


def create_inline(engine: AsyncEngine) -> AsyncEngine | None:
    """SQLite: an engine on the same file whose statements run in the event loop's thread
    (db/inline_sqlite.py) and wait for no lock; None on PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return None
    path = engine.url.database or ""
    inline = create_async_engine(engine.url, async_creator=partial(connect_inline, path))
    _configure_sqlite(inline, 0, wal_patience_s=30.0)
    return inline


def _configure_postgres(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "checkout")
    def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        # No ping on checkout (a round trip on every request): a connection the server closed
        # (a restart, a terminated backend, an idle timeout) is known closed by the driver
        # once the event loop has read the end of its socket; the pool then opens another.
        # A connection that dies while in use fails that request and is discarded with the
        # rest of the pool's connections of the same age.
        if dbapi_connection.driver_connection.is_closed():
            raise exc.DisconnectionError("the server closed this connection")


def _enable_wal(cursor: Any, patience_seconds: float) -> None:
    """Switching a new file to WAL needs an exclusive lock and SQLite does not wait for it
    (no busy handler), so connections racing to open a fresh database retry here."""
    deadline = time.monotonic() + patience_seconds
    while True:
        try:
            cursor.execute("PRAGMA journal_mode")
            if str(cursor.fetchone()[0]).lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except Exception as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _configure_sqlite(
    engine: AsyncEngine, busy_timeout_ms: int, wal_patience_s: float | None = None
) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        _enable_wal(cursor, busy_timeout_ms / 1000 if wal_patience_s is None else wal_patience_s)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Any) -> None:
        # A writer takes the write lock up front, so two writers queue on busy_timeout
        # instead of failing with "database is locked" when one upgrades its read lock.
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
