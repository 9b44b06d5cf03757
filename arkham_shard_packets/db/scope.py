"""Tenant scoping in one place: the statements a caller's work makes on a table with a
`tenant_id` are built through `Scope` (`select`, `update`, `delete`, `owns`, `page_by_tenant`,
and `row` to stamp an insert), so a caller reads and writes its tenant's rows only.

A scope sees the rows of its tenant; a `shared` one (a signed-in caller while anonymous callers
are let in) sees the rows of no tenant beside them, which every anonymous caller sees anyway.
Work on one packet narrows its scope to that packet's tenant (`within`), so what it writes
belongs where the packet does: a tenantless packet stays tenantless, whoever works on it.

Four places reach those tables without a Scope, by design: in each, no one tenant is asking.
- A share link's lookup by its token (sharing/links.py, `open_link`): the caller has no tenant;
  the token is the credential, and the share it names sets the work's scope from then on.
- The event relay (events/outbox.py, and on PostgreSQL the placing function of migration
  0010): it places, claims and marks delivered the events of every tenant, which `append`
  wrote with their tenant. What a caller reads of them, the feed, goes through a Scope
  (events/feed.py).
- Housekeeping: the recovery sweeps (recovery.py: export files and blobs that no row names)
  and a blob's reference count (attachments/service.py, `is_referenced`), which count every
  tenant's rows because one blob serves every packet that holds its bytes.
- The operator and an admin across tenants: the packets whose seal is unsigned, of every
  tenant (versions/attest.py, `unsigned`; the command then signs each in its own tenant), and
  moving a packet of no tenant into one (packets/tenancy.py, which rewrites `tenant_id`).
Below all of these, the migrations and the triggers they create (the tallies and the search
index of migration 0006) work on every tenant's rows. Tables without a `tenant_id` (the file and
snapshot registries, the key registry of keys/registry.py) are installation-wide: there is
nothing in them for a Scope to narrow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Delete,
    Select,
    Table,
    Update,
    bindparam,
    delete,
    or_,
    select,
    union_all,
    update,
)


@dataclass(frozen=True)
class Scope:
    """Who is asking: the tenant whose rows are visible, and the actor recorded on writes."""

    tenant_id: str | None = None
    actor: str = "system"
    actor_email: str | None = None  # where a person reads it (a Frame user's email)
    shared: bool = False  # also the rows of no tenant (the space anonymous callers work in)
    admin: bool = False  # a Frame user with the admin role, or the operator's command line

    @property
    def tenants(self) -> tuple[str | None, ...]:
        """Every tenant whose rows this scope sees (None: the rows of no tenant)."""
        if self.tenant_id is not None and self.shared:
            return (self.tenant_id, None)
        return (self.tenant_id,)

    def within(self, tenant_id: str | None) -> Scope:
        """This caller acting on a row of `tenant_id`: that tenant's rows only, new rows
        stamped with it."""
        if tenant_id == self.tenant_id and not self.shared:
            return self
        return replace(self, tenant_id=tenant_id, shared=False)

    def owns(self, table: Table) -> ColumnElement[bool]:
        column = table.c.tenant_id
        owned = [column.is_(None) if t is None else column == t for t in self.tenants]
        return owned[0] if len(owned) == 1 else or_(*owned)

    def select(self, table: Table, *columns: Any) -> Select[Any]:
        return select(*(columns or (table,))).where(self.owns(table))

    def update(self, table: Table) -> Update:
        return update(table).where(self.owns(table))

    def delete(self, table: Table) -> Delete:
        return delete(table).where(self.owns(table))

    def row(self, **values: Any) -> dict[str, Any]:
        """Values for an insert, stamped with the tenant."""
        return {**values, "tenant_id": self.tenant_id}


def owned_by_parameter(table: Table, name: str | None) -> ColumnElement[bool]:
    """`Scope.owns` of a narrowed scope in a statement built once: the tenant is the
    execution's parameter `name` (None: the rows of no tenant)."""
    column = table.c.tenant_id
    return column.is_(None) if name is None else column == bindparam(name)


# `Scope.owns` of any scope in a statement built once for each shape of its tenants (which of
# them are None, `tenant_shape`) and placed at `place`: tenant n is the parameter
# `<place>_tenant_<n>` (`tenant_parameters`).


def tenant_shape(tenants: Sequence[str | None]) -> tuple[bool, ...]:
    return tuple(tenant is None for tenant in tenants)


def tenant_parameters(tenants: Sequence[str | None], place: str) -> dict[str, str]:
    return {f"{place}_tenant_{n}": t for n, t in enumerate(tenants) if t is not None}


def owned_by_parameters(table: Table, place: str, shape: tuple[bool, ...]) -> ColumnElement[bool]:
    owned = [
        owned_by_parameter(table, None if none else f"{place}_tenant_{n}")
        for n, none in enumerate(shape)
    ]
    return or_(*owned) if len(owned) > 1 else owned[0]


@dataclass(frozen=True)
class Page:
    """Where a page of rows is cut: ordered by `keys` (unique together), then sliced."""

    keys: Sequence[Column[Any]]
    limit: int
    offset: int = 0
    descending: bool = False


def page_by_tenant(
    scope: Scope, table: Table, rows: Callable[[ColumnElement[bool]], Select[Any]], page: Page
) -> Select[Any]:
    """A page of the scope's rows of `table`, as `rows(owned)` selects them.

    Each tenant the scope sees is read on its own, ordered by (tenant_id, *keys): leading with
    the one tenant_id changes no order, and it lets PostgreSQL read the page straight from a
    (tenant_id, …) index and stop after it, which it won't do for `tenant_id IS NULL`, nor for
    an OR of two tenants. A scope of two tenants merges their first pages in one statement."""

    def ordered(*columns: Any) -> list[Any]:
        return [c.desc() if page.descending else c.asc() for c in columns]

    branches = [
        rows(scope.within(tenant).owns(table)).order_by(*ordered(table.c.tenant_id, *page.keys))
        for tenant in scope.tenants
    ]
    if len(branches) == 1:
        return branches[0].limit(page.limit).offset(page.offset or None)
    reach = page.offset + page.limit
    merged = union_all(*(select(b.limit(reach).subquery()) for b in branches)).subquery()
    return (
        select(merged)
        .order_by(*ordered(*(merged.c[key.name] for key in page.keys)))
        .limit(page.limit)
        .offset(page.offset or None)
    )
