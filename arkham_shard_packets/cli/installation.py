"""The installation the commands work on: its data directory and database, the services on
them with no server running, and `arkham-packets init`, which makes one.

Every command but `serve` and `init` works only on an installation that is there: a mistyped
`--data-dir` or database URL is refused in one line, never made into a new, empty
installation with a signing key of its own. A database that can't be used (its driver not
installed, not there, a server that doesn't answer) is one line too, as `serve` says it."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Settings
from ..core.file_modes import FileModes
from ..errors import PacketsError
from .options import UsageError, add_command, add_database_options, settings_of

if TYPE_CHECKING:
    from ..wiring import Services

MAKE_ONE = "`arkham-packets init` makes one (`serve` does too)"


def check_data_dir(path: Path, mode: int) -> None:
    """Made (or narrowed) to `mode` (ARKHAM_PACKETS_DATA_DIR_MODE), and writable; else one
    line. The probe file's name is this process's own: servers sharing the directory start
    together, and one killed mid-probe leaves its file behind."""
    try:
        FileModes(mode).own_folder(path)
        descriptor, probe = tempfile.mkstemp(prefix=".write-test-", dir=path)
        os.close(descriptor)
        os.unlink(probe)
    except OSError as error:
        raise UsageError(
            f"data directory {path} is not usable: {error.strerror or error}"
        ) from None


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names (an empty path when it names none); None for another
    database, or a URL that isn't one (the probe says why)."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        return None
    if parsed.get_backend_name() != "sqlite":
        return None
    name = parsed.database or ""
    return Path("" if name == ":memory:" or name.startswith("file:") else name)


async def usable_database(url: str, file_mode: int) -> None:
    from ..db.probe import DatabaseUnusable, probe

    try:
        await probe(url, file_mode)
    except DatabaseUnusable as error:
        raise UsageError(str(error)) from None


async def stored_revision(url: str, file_mode: int) -> str | None:
    """The schema revision the database holds; None when it holds no packets schema."""
    from ..db.engine import create_engine
    from ..db.schema import stored_revision

    engine = create_engine(url, file_mode=file_mode)
    try:
        return await stored_revision(engine)
    finally:
        await engine.dispose()


async def require_installation(settings: Settings, uses_data_dir: bool = True) -> str:
    """The installation's schema revision, else UsageError in one line: its data directory is
    not there (when the command uses it, or holds the database), its database is not there or
    can't be used, or holds no packets schema. Creates nothing."""
    from ..db.probe import shown_url

    data_dir = settings.standalone_data_dir
    url = settings.standalone_database_url
    if (uses_data_dir or settings.database_url is None) and not data_dir.is_dir():
        raise UsageError(
            f"no installation in {data_dir}: there is no such directory (a mistyped "
            f"--data-dir or ARKHAM_PACKETS_DATA_DIR?); {MAKE_ONE}"
        )
    database_file = sqlite_file(url)
    if database_file is not None and not database_file.is_file():
        if settings.database_url is None:
            raise UsageError(f"no installation in {data_dir}: it holds no database; {MAKE_ONE}")
        raise UsageError(
            f"no database at {database_file or url} (a mistyped --database-url or "
            f"ARKHAM_PACKETS_DATABASE_URL?); {MAKE_ONE}"
        )
    file_mode = FileModes(settings.data_dir_mode).file
    await usable_database(url, file_mode)
    revision = await stored_revision(url, file_mode)
    if revision is None:
        raise UsageError(
            f"the database {shown_url(url)} holds no packets installation (a mistyped "
            f"--database-url or ARKHAM_PACKETS_DATABASE_URL?); {MAKE_ONE}"
        )
    return revision


@asynccontextmanager
async def offline_services(args: argparse.Namespace, new: bool = False) -> AsyncIterator[Services]:
    """The services on the installation the settings name, which must be there (`new`: made
    there when it is not, for `init`)."""
    from ..db.engine import create_engine
    from ..db.schema import ensure_newest
    from ..db.session import Database
    from ..wiring import Services

    settings = settings_of(args)
    data_dir = settings.standalone_data_dir
    modes = FileModes(settings.data_dir_mode)
    if not new:
        await require_installation(settings)
    await asyncio.to_thread(modes.own_folder, data_dir)
    engine = create_engine(
        settings.standalone_database_url,
        sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        file_mode=modes.file,
    )
    database = Database(engine, sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    try:
        await ensure_newest(engine)
        # No Frame bus here: each commit places its events in the feed, and a server process
        # on this database delivers them (told at once on PostgreSQL, else at its next retry).
        services = Services.build(settings, database, None, None, data_dir=data_dir)
        try:
            yield services
        finally:
            await services.files.close()
    finally:
        await database.dispose()


def run(work: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """The command's work, its failures one line on stderr: 1 for what the packets refused, 2
    for what stopped the command (the store, the file system, the database)."""
    from sqlalchemy.exc import SQLAlchemyError

    from ..core.store import StoreUnusable
    from ..db.probe import reason

    try:
        return asyncio.run(work())
    except StoreUnusable as error:
        print(f"arkham-packets: error: {error}", file=sys.stderr)
        return 2
    except PacketsError as error:
        print(f"arkham-packets: error: {error.detail}", file=sys.stderr)
        return 1
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        print(f"arkham-packets: error: {where}{error.strerror or error}", file=sys.stderr)
        return 2
    except SQLAlchemyError as error:
        print(f"arkham-packets: error: the database: {reason(error)}", file=sys.stderr)
        return 2


def init_command(args: argparse.Namespace) -> int:
    """The data directory, the database's schema and, when the installation has none, its
    signing key; an installation already there is brought up to date and otherwise left."""
    from ..db.probe import shown_url

    settings = settings_of(args)
    data_dir = settings.standalone_data_dir
    url = settings.standalone_database_url
    file_mode = FileModes(settings.data_dir_mode).file
    check_data_dir(data_dir, settings.data_dir_mode)

    async def work() -> int:
        await usable_database(url, file_mode)
        before = await stored_revision(url, file_mode)
        async with offline_services(args, new=True) as services:
            await services.keyring.prepare()
            keys = await services.keyring.keys()
        made = "a new installation" if before is None else "an installation, there already"
        print(f"{made}: {data_dir.resolve()}")
        print(f"  database  {shown_url(url)} (revision {await stored_revision(url, file_mode)})")
        for key in keys:
            if key.active:
                print(f"  signing key {key.fingerprint}")
        return 0

    return run(work)


def add_init_command(commands: Any) -> None:
    init = add_command(
        commands,
        "init",
        "make an installation: the data directory, the database's schema and the signing "
        "key (one already there is brought up to date); every command but `serve` needs one",
    )
    add_database_options(init)
    init.set_defaults(handler=init_command)
