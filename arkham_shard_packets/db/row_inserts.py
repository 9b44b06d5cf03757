"""One-row writes sent with statements built once, the row's values as parameters.

`insert(table).values(row)` builds a bound parameter for every value and a new cache key for
the statement on every call: in a write, more time than running the statements. Here a row's
insert is built once per table (SQLAlchemy caches its compiled form for each set of columns),
and the writes PostgreSQL sends as WITH clauses of one statement are built once per `shape`
(the builder of the statement and what it depends on) and place in that statement, their
values named after that place (`parameters`). Three kinds: a row to insert (`RowInsert`),
rows alike but for one column (`RowsInsert`, a snapshot's file references), and the update of
one row by its id (`RowUpdate`, finalize's change of the packet it holds locked). And two that
exist only in such a statement: the lock its other writes hang on (`RowLock`, its first), and
a row written only if the lock took its row, with values computed from it (`LockedInsert`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    Insert,
    RowMapping,
    Table,
    Text,
    Update,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy import table as clause_table
from sqlalchemy.ext.asyncio import AsyncConnection

from .scope import owned_by_parameters, tenant_parameters, tenant_shape
from .upsert import insert_or_skip

# How a write's statement is built at a place: the builder, called as builder(place, *args)
Shape = tuple[Callable[..., Any], tuple[Any, ...]]


def named_values(place: str, values: dict[str, Any]) -> dict[str, Any]:
    """A row's values as the parameters `<place>_<column>` of a write placed at `place`."""
    return {f"{place}_{name}": value for name, value in values.items()}


@dataclass(frozen=True)
class RowInsert:
    """One row for `table`; `skip_duplicates`: not written when it breaks a unique constraint."""

    table: Table
    values: dict[str, Any]
    skip_duplicates: bool = False

    @property
    def shape(self) -> Shape:
        return named_insert, (self.table, tuple(self.values), self.skip_duplicates)

    def parameters(self, place: str) -> dict[str, Any]:
        """The row's values under the names `named_insert(place, ...)` gives its parameters."""
        return named_values(place, self.values)

    async def execute(self, conn: AsyncConnection) -> None:
        await conn.execute(_plain(self.table, self.skip_duplicates), self.values)


@dataclass(frozen=True)
class RowsInsert:
    """A row for `table` for each value of `each` in `column`, the other columns `values`."""

    table: Table
    values: dict[str, Any]
    column: str
    each: tuple[Any, ...]
    skip_duplicates: bool = False

    @property
    def shape(self) -> Shape:
        args = (self.table, tuple(self.values), self.column, self.skip_duplicates)
        return named_rows_insert, args

    def parameters(self, place: str) -> dict[str, Any]:
        shared = named_values(place, self.values)
        return shared | {f"{place}_{self.column}": list(self.each)}

    async def execute(self, conn: AsyncConnection) -> None:
        rows = [{**self.values, self.column: value} for value in self.each]
        await conn.execute(_plain(self.table, self.skip_duplicates), rows)


@dataclass(frozen=True)
class RowUpdate:
    """The row of `table` whose id is `row_id`, if it is one of `tenants`' rows, set to
    `values` (a scope's tenants, as `Scope.update` would have it)."""

    table: Table
    row_id: Any
    tenants: tuple[str | None, ...]
    values: dict[str, Any]

    @property
    def shape(self) -> Shape:
        return named_update, (self.table, tuple(self.values), tenant_shape(self.tenants))

    def parameters(self, place: str) -> dict[str, Any]:
        values = {f"{place}_set_{name}": value for name, value in self.values.items()}
        tenants = tenant_parameters(self.tenants, place)
        return values | tenants | {f"{place}_id": self.row_id}

    async def execute(self, conn: AsyncConnection) -> None:
        build, args = self.shape
        await conn.execute(build("u", *args), self.parameters("u"))


LOCK = "w0"  # a statement's lock is its first write, the WITH clause of this name
# A column of a `LockedInsert` computed in SQL: derive(place) of the insert at `place`, from
# the lock's row (`lock_column(column)`) and the insert's own parameters
Derive = Callable[[str], Any]


def lock_column(column: str, type_: Any = Text) -> Any:
    """A column of the row the statement's lock returned, in a `Derive`."""
    return literal_column(f"{LOCK}.{column}", type_=type_)


@dataclass
class RowLock:
    """The update of the row of `row_id` that a statement's other writes hang on (PostgreSQL):
    sent as that statement's first WITH clause, never on its own. `found` is the row it
    returned once the statement ran, None when it matched no row (nothing was written)."""

    row_id: Any
    shape: Shape
    values: dict[str, Any]  # its parameters, named by its builder whatever its place
    found: RowMapping | None = None

    def parameters(self, place: str) -> dict[str, Any]:
        return self.values

    async def execute(self, conn: AsyncConnection) -> None:
        raise RuntimeError("a lock is sent in one statement with the rows that hang on it")


@dataclass(frozen=True)
class LockedInsert:
    """One row for `table`, written by the statement of a `RowLock` if the lock took its row:
    its tenant is the locked row's, and each of `derived` is computed from that row."""

    table: Table
    values: dict[str, Any]
    derived: tuple[tuple[str, Derive], ...] = ()

    @property
    def shape(self) -> Shape:
        return named_locked_insert, (self.table, tuple(self.values), self.derived)

    def parameters(self, place: str) -> dict[str, Any]:
        return named_values(place, self.values)

    async def execute(self, conn: AsyncConnection) -> None:
        raise RuntimeError("a row that hangs on a lock is sent in the lock's statement")


RowWrite = RowInsert | RowsInsert | RowUpdate | RowLock | LockedInsert


def named_write(place: str, shape: Shape) -> Any:
    """The statement of a write of `shape` at `place`, its parameters `write.parameters(place)`."""
    build, args = shape
    return build(place, *args)


@lru_cache(maxsize=64)
def _plain(table: Table, skip_duplicates: bool) -> Insert:
    return insert_or_skip(table) if skip_duplicates else insert(table)


@lru_cache(maxsize=256)
def named_insert(
    place: str, table: Table, columns: tuple[str, ...], skip_duplicates: bool = False
) -> Insert:
    """The insert of one row of `columns`, each value the parameter `<place>_<column>`."""
    values = {name: bindparam(f"{place}_{name}", type_=table.c[name].type) for name in columns}
    return _plain(table, skip_duplicates).values(values)


@lru_cache(maxsize=64)
def named_rows_insert(
    place: str, table: Table, columns: tuple[str, ...], column: str, skip_duplicates: bool
) -> Insert:
    """PostgreSQL: the insert of a row for each element of the array `<place>_<column>`, the
    other columns the parameters `<place>_<name>`, whatever the number of rows."""
    shared = [bindparam(f"{place}_{name}", type_=table.c[name].type) for name in columns]
    each = func.unnest(bindparam(f"{place}_{column}", type_=ARRAY(table.c[column].type)))
    return _plain(table, skip_duplicates).from_select([*columns, column], select(*shared, each))


@lru_cache(maxsize=64)
def named_update(
    place: str, table: Table, columns: tuple[str, ...], no_tenant: tuple[bool, ...]
) -> Update:
    """The update of `columns` (parameters `<place>_set_<column>`) of the row whose id is
    `<place>_id`, among the rows of the tenants `<place>_tenant_<n>` (`no_tenant`: of none)."""
    values = {name: bindparam(f"{place}_set_{name}", type_=table.c[name].type) for name in columns}
    where = owned_by_parameters(table, place, no_tenant)
    return update(table).where(where, table.c.id == bindparam(f"{place}_id")).values(values)


def _locked_tenant(place: str) -> Any:
    return lock_column("tenant_id")


@lru_cache(maxsize=64)
def named_locked_insert(
    place: str, table: Table, columns: tuple[str, ...], derived: tuple[tuple[str, Derive], ...]
) -> Insert:
    """The insert of one row from the lock's: `columns` the parameters `<place>_<column>` but
    the tenant and `derived`, computed; no row when the lock returned none."""
    computed = dict(derived) | {"tenant_id": _locked_tenant}
    names = [name for name in columns if name not in computed] + list(computed)
    values = [
        computed[name](place)
        if name in computed
        else bindparam(f"{place}_{name}", type_=table.c[name].type)
        for name in names
    ]
    return insert(table).from_select(names, select(*values).select_from(clause_table(LOCK)))
