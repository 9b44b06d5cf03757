"""INSERT ... ON CONFLICT DO NOTHING, one statement for PostgreSQL and SQLite.

The dialects' own constructs (`postgresql.insert(...).on_conflict_do_nothing()`) have no cache
key before SQLAlchemy 2.1, which the Frame installs: every such insert was compiled anew, a
tenth of a write's time inside the Frame. This one is a plain insert with a fixed suffix, so
SQLAlchemy caches it on every version; both databases spell the suffix alike.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Insert, Table, exc
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ClauseElement


class _SkipDuplicates(ClauseElement):
    __visit_name__ = "skip_duplicates"
    inherit_cache = True
    _traverse_internals = []  # noqa: RUF012 (a list by SQLAlchemy's type; nothing varies)


@compiles(_SkipDuplicates)
def _render(element: _SkipDuplicates, compiler: Any, **kw: Any) -> str:
    return "ON CONFLICT DO NOTHING"


class InsertOrSkip(Insert):
    """Rows that would break a unique constraint are not written (nor returned)."""

    # Cached apart from a plain insert of the same table (a cache key names its class); the
    # suffix goes where the dialects put their own ON CONFLICT, before RETURNING.
    inherit_cache = True
    _post_values_clause = _SkipDuplicates()


def insert_or_skip(table: Table) -> InsertOrSkip:
    return InsertOrSkip(table)


def breaks(error: exc.IntegrityError, constraint: str) -> bool:
    """Whether `error` is PostgreSQL's refusal of a row that would break `constraint`."""
    return getattr(driver_error(error), "constraint_name", None) == constraint


def driver_error(error: exc.DBAPIError) -> Any:
    """The driver's own error (asyncpg's) that SQLAlchemy's adapter raised `error` from."""
    return getattr(error.orig, "__cause__", None)
