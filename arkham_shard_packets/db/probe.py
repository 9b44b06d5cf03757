"""Reaching a database once, to say in one line why it can't be used before a server starts
or a command runs; and a database URL as it may be shown (its passwords masked)."""

from __future__ import annotations

import asyncio
import sqlite3

from sqlalchemy import exc, text
from sqlalchemy.engine import make_url

from .engine import PRIVATE_FILE, create_engine, private_sqlite_file, to_async_url

PATIENCE_SECONDS = 10.0
SECRET_PARAMETERS = frozenset({"password", "passwd", "sslpassword"})
MASK = "***"


class DatabaseUnusable(Exception):
    pass


def shown_url(url: str) -> str:
    """The URL as it can be pasted back (`--database-url`, ARKHAM_PACKETS_DATABASE_URL), with
    every password, in its user part or its query, shown as ***."""
    try:
        parsed = make_url(url)
    except exc.ArgumentError:
        return repr(url)
    secrets = {key: MASK for key in parsed.query if key.lower() in SECRET_PARAMETERS}
    shown = parsed.update_query_dict(secrets).render_as_string(hide_password=True)
    return shown.replace("=%2A%2A%2A", f"={MASK}")  # `*` needs no escape in a query


def reason(error: BaseException) -> str:
    """Why a database can't be used, in one line."""
    if isinstance(error, exc.DBAPIError) and error.orig is not None:
        error = error.orig
    if isinstance(error, ModuleNotFoundError):
        driver = error.name or "its driver"
        return f"{driver} is not installed: pip install 'arkham-shard-packets[postgres]'"
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _open_sqlite(path: str, file_mode: int) -> None:
    # The standard library's driver, in this thread: aiosqlite's worker thread would outlive
    # a failed connection and report into an event loop that is gone.
    private_sqlite_file(path, file_mode)
    connection = sqlite3.connect(path or ":memory:")
    try:
        connection.execute("SELECT 1")
    finally:
        connection.close()


async def _select_one(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


async def probe(url: str, file_mode: int = PRIVATE_FILE) -> None:
    """Connect and run `SELECT 1`; DatabaseUnusable says in one line why that failed.
    `file_mode`: the widest mode of a SQLite database file it makes."""
    shown = shown_url(url)
    try:
        if to_async_url(url).get_backend_name() == "sqlite":
            _open_sqlite(make_url(url).database or "", file_mode)
        else:
            await asyncio.wait_for(_select_one(url), PATIENCE_SECONDS)
    except asyncio.TimeoutError:
        raise DatabaseUnusable(
            f"can't reach the database {shown}: no answer in {PATIENCE_SECONDS:.0f} s"
        ) from None
    except Exception as error:
        raise DatabaseUnusable(f"can't use the database {shown}: {reason(error)}") from None
