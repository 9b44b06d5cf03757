"""One-row inserts sent with statements built once, the row's values as parameters.

`insert(table).values(row)` builds a bound parameter for every value and a new cache key for
the statement on every call: in a write, more time than running the statements. Here a row's
insert is built once per table (SQLAlchemy caches its compiled form for each set of columns),
and the inserts PostgreSQL sends as WITH clauses of one statement are built once per
table, columns and place in that statement, their values named after that place.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Insert, Table, bindparam, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from .upsert import insert_or_skip


@dataclass(frozen=True)
class RowInsert:
    """One row for `table`; `skip_duplicates`: not written when it breaks a unique constraint."""

    table: Table
    values: dict[str, Any]
    skip_duplicates: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.values)


@lru_cache(maxsize=64)
def _plain(table: Table, skip_duplicates: bool) -> Insert:
    return insert_or_skip(table) if skip_duplicates else insert(table)


async def execute_insert(conn: AsyncConnection, row: RowInsert) -> None:
    await conn.execute(_plain(row.table, row.skip_duplicates), row.values)


def prefixed(place: str, row: RowInsert) -> dict[str, Any]:
    """The row's values under the names `named_insert(place, ...)` gives its parameters."""
    return {f"{place}_{name}": value for name, value in row.values.items()}


@lru_cache(maxsize=256)
def named_insert(
    place: str, table: Table, columns: tuple[str, ...], skip_duplicates: bool = False
) -> Insert:
    """The insert of one row of `columns`, each value the parameter `<place>_<column>`."""
    values = {name: bindparam(f"{place}_{name}", type_=table.c[name].type) for name in columns}
    return _plain(table, skip_duplicates).values(values)
