"""Building the engine from the URLs the Frame or an operator may hand us."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from arkham_shard_packets.db.engine import create_engine, server_settings

from .conftest import POSTGRES_URL


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("-csearch_path=packets,public", {"search_path": "packets,public"}),
        (
            "-c search_path=packets -c statement_timeout=5s",
            {"search_path": "packets", "statement_timeout": "5s"},
        ),
        ("--lock-timeout=2s", {"lock_timeout": "2s"}),
    ],
)
def test_libpq_options_become_server_settings(options: str, expected: dict[str, str]) -> None:
    url = make_url("postgresql+asyncpg://u@h/db").update_query_dict(
        {"options": options, "ssl": "require"}
    )
    stripped, settings = server_settings(url)
    assert settings == expected
    assert dict(stripped.query) == {"ssl": "require"}


def test_unreadable_options_are_refused() -> None:
    with pytest.raises(ValueError, match="-c name=value"):
        server_settings(make_url("postgresql+asyncpg://u@h/db?options=-c"))


@pytest.mark.skipif(not POSTGRES_URL, reason="needs PACKETS_TEST_DATABASE_URL")
async def test_options_reach_the_server() -> None:
    assert POSTGRES_URL
    url = make_url(POSTGRES_URL).update_query_dict({"options": "-c statement_timeout=1234"})
    engine = create_engine(url.render_as_string(hide_password=False))
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SHOW statement_timeout"))).scalar() == "1234ms"
    finally:
        await engine.dispose()


@pytest.mark.skipif(not POSTGRES_URL, reason="needs PACKETS_TEST_DATABASE_URL")
@pytest.mark.parametrize(
    ("options", "expected"), [(None, "0"), ("-c max_parallel_workers_per_gather=2", "2")]
)
async def test_no_parallel_plans_unless_the_url_says(options: str | None, expected: str) -> None:
    assert POSTGRES_URL
    url = make_url(POSTGRES_URL)
    if options is not None:
        url = url.update_query_dict({"options": options})
    engine = create_engine(url.render_as_string(hide_password=False))
    try:
        async with engine.connect() as conn:
            shown = await conn.execute(text("SHOW max_parallel_workers_per_gather"))
            assert shown.scalar() == expected
    finally:
        await engine.dispose()


async def test_a_second_engine_on_a_database_keeps_the_first_ones_locks(tmp_path: Path) -> None:
    """Making an engine narrows the database file's mode without opening it: closing any
    descriptor of the file would drop the locks this process's other connections hold on it,
    and another process could then write beside them (a corrupt database)."""
    path = tmp_path / "packets.db"
    first = create_engine(f"sqlite:///{path}")
    try:
        async with first.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
        async with first.connect() as conn:
            await conn.execute(text("INSERT INTO t VALUES (1)"))  # holds the write lock
            second = create_engine(f"sqlite:///{path}")
            await second.dispose()
            other_process = await asyncio.create_subprocess_exec(
                sys.executable, "-c", WRITE_NOW, str(path), stdout=asyncio.subprocess.PIPE
            )
            said, _ = await other_process.communicate()
            assert said.decode().strip() == "locked"
            await conn.rollback()
    finally:
        await first.dispose()


WRITE_NOW = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
try:
    db.execute("BEGIN IMMEDIATE")
except sqlite3.OperationalError as error:
    print("locked" if "locked" in str(error) else error)
else:
    print("wrote beside a writer")
"""
