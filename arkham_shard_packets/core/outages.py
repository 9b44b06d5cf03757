"""Which failures of the database or the disk are outages (503, 507) rather than bugs."""

from __future__ import annotations

import errno

from sqlalchemy import exc as sql

from ..errors import DatabaseUnavailable, InsufficientStorage, PacketsError

# What an operating system says when a disk or quota is full, or a file may grow no more.
FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
# A database server that went away or refused us: connection refused, reset, timed out...
UNREACHABLE = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.EPIPE,
    errno.ETIMEDOUT,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
}
SQLITE_FULL = 13
SQLITE_UNAVAILABLE = {5, 6, 10, 14}  # busy, locked, I/O error, can't open
# PostgreSQL SQLSTATE: connection exceptions (08), too many connections, shutdowns.
PG_UNAVAILABLE_CLASSES = ("08",)
PG_UNAVAILABLE = {"53300", "57P01", "57P02", "57P03"}
PG_DISK_FULL = "53100"
LOST = "the database is unavailable (the connection to it was lost); try again"
BUSY = "the database is busy; nothing was changed, try again"


def outage_of(error: BaseException) -> PacketsError | None:
    """The domain error for a lost database or a full disk, or None for anything else (a bug
    stays a 500 and is logged)."""
    if isinstance(error, OSError) and error.errno in FULL:
        return InsufficientStorage("the server's disk is full; nothing was changed")
    if isinstance(error, sql.TimeoutError):
        return DatabaseUnavailable(BUSY)
    if isinstance(error, sql.DBAPIError):
        return _database_outage(error)
    if isinstance(error, ConnectionError) or (
        isinstance(error, OSError) and error.errno in UNREACHABLE
    ):
        return DatabaseUnavailable(LOST)
    return None


def _database_outage(error: sql.DBAPIError) -> PacketsError | None:
    original = error.orig
    sqlite_code = getattr(original, "sqlite_errorcode", None)
    sqlstate = str(getattr(original, "sqlstate", "") or "")
    message = str(original).lower()
    if sqlstate == PG_DISK_FULL or (sqlite_code is not None and sqlite_code & 0xFF == SQLITE_FULL):
        return InsufficientStorage("the database's disk is full; nothing was changed")
    if "database or disk is full" in message:
        return InsufficientStorage("the database's disk is full; nothing was changed")
    if error.connection_invalidated or sqlstate.startswith(PG_UNAVAILABLE_CLASSES):
        return DatabaseUnavailable(LOST)
    if sqlstate in PG_UNAVAILABLE or "database is locked" in message:
        return DatabaseUnavailable(BUSY)
    if sqlite_code is not None and sqlite_code & 0xFF in SQLITE_UNAVAILABLE:
        return DatabaseUnavailable(BUSY)
    return None
