"""A new installation's database, migrated once per session and copied for every test.

Running every migration for every test cost a short test most of its time; a copy of a database
migrated once is the same database. A template is named by the migrations it ran (the head and a
digest of db/migrations), so a new or changed migration makes a new one. Migrations themselves
are still run from nothing by tests/test_migrations.py, on the empty database of the
`empty_database_url` fixture.

SQLite: the template is a file in the session's temporary folder, copied to each test's own.
PostgreSQL: the template is a database beside the test's (`<database>_tpl_<key>`), and each test's
database is dropped and made again from it (`CREATE DATABASE ... TEMPLATE`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from sqlalchemy import NullPool, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from arkham_shard_packets.db import migrations
from arkham_shard_packets.db.engine import create_engine, to_async_url
from arkham_shard_packets.db.migrate import upgrade
from arkham_shard_packets.db.revision import HEAD_REVISION, VERSION_TABLE
from arkham_shard_packets.db.tables import metadata

MIGRATIONS = Path(migrations.__file__).parent
SQLITE_FILE_MODE = 0o600  # what db/engine.py gives a database file it makes


def worker_database(url: str | None) -> str | None:
    """`url` with the pytest-xdist worker's name after its database's, outside a worker as it
    is."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{worker}").render_as_string(False)


def migrations_key() -> str:
    """The head revision and a digest of every migration and of Alembic's environment."""
    digest = hashlib.sha256()
    for path in sorted(MIGRATIONS.rglob("*.py")):
        digest.update(path.relative_to(MIGRATIONS).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return f"{HEAD_REVISION}_{digest.hexdigest()[:12]}"


async def migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


# The functions the migrations made (each named arkham_packet_...), with their arguments.
SHARD_FUNCTIONS = text(
    "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
    " WHERE n.nspname = current_schema() AND p.proname LIKE 'arkham\\_packet\\_%'"
)


async def empty_postgres(url: str) -> None:
    """The shard's tables, functions and revision dropped: a database that was never
    migrated."""
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.execute(text(f"DROP TABLE IF EXISTS {VERSION_TABLE}"))
        for function in await conn.scalars(SHARD_FUNCTIONS):
            await conn.execute(text(f"DROP FUNCTION IF EXISTS {function}"))
    await engine.dispose()


def side_files(path: Path) -> list[Path]:
    return [p for p in path.parent.iterdir() if p.name.startswith(path.name + "-")]


def copy_file(source: Path, path: Path) -> None:
    """`source` copied to a new file `path`, as private as db/engine.py makes a database."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SQLITE_FILE_MODE)
    with os.fdopen(descriptor, "wb") as copy:
        copy.write(source.read_bytes())


class SqliteTemplate:
    """A SQLite file migrated to the head, copied to a new file for each test."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / f"template-{migrations_key()}.db"

    async def prepare(self) -> None:
        await migrate(f"sqlite:///{self.path}")
        # Its engine gone, SQLite has folded its write-ahead log into the file: nothing beside.
        assert not side_files(self.path), f"the template was left with {side_files(self.path)}"

    async def fresh(self, path: Path, *, empty: bool = False) -> str:
        """The template copied to `path`, or `empty`: a file not there yet."""
        if not empty:
            copy_file(self.path, path)
        return f"sqlite:///{path}"

    async def close(self) -> None:
        pass


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class PostgresTemplate:
    """The test database `url` names, made again from a template for each test."""

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = make_url(url)
        if not parsed.database:
            raise ValueError(f"{url}: name a database of the suite's own")
        self.database = parsed.database
        self.template = f"{self.database}_tpl_{migrations_key()}"
        self.quoted = _quoted(self.template)
        self.prefix = f"{self.database}_tpl_"
        # Databases are made and dropped from the maintenance database, never from themselves.
        admin = to_async_url(url).set(database="postgres")
        self.admin = create_async_engine(admin, isolation_level="AUTOCOMMIT", poolclass=NullPool)

    async def _databases(self, conn: AsyncConnection) -> set[str]:
        names = await conn.scalars(text("SELECT datname FROM pg_database"))
        return set(names.all())

    async def prepare(self) -> None:
        """Makes the template if this session's migrations have none yet (migrated under
        another name, renamed when done, so an interrupted run leaves no half template), and
        the test database if there is none; drops the templates of other migrations."""
        building = f"{self.template}_building"
        async with self.admin.connect() as conn:
            present = await self._databases(conn)
            for name in present:
                if name.startswith(self.prefix) and name != self.template:
                    await conn.execute(text(f"DROP DATABASE {_quoted(name)} WITH (FORCE)"))
            if self.template not in present:
                await conn.execute(text(f"CREATE DATABASE {_quoted(building)}"))
        if self.template not in present:
            await migrate(make_url(self.url).set(database=building).render_as_string(False))
            async with self.admin.connect() as conn:
                renamed = f"ALTER DATABASE {_quoted(building)} RENAME TO {self.quoted}"
                await conn.execute(text(renamed))
        if self.database not in present:
            await self.fresh()

    async def fresh(self, path: Path | None = None, *, empty: bool = False) -> str:
        """The test database dropped (its connections ended) and made again from the template,
        or `empty` as PostgreSQL makes a new database (`path`: SQLite's, unused here)."""
        database = _quoted(self.database)
        create = f"CREATE DATABASE {database}"
        async with self.admin.connect() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
            await conn.execute(text(create if empty else f"{create} TEMPLATE {self.quoted}"))
        return self.url

    async def close(self) -> None:
        await self.admin.dispose()


Template = SqliteTemplate | PostgresTemplate
