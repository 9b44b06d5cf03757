"""Tenant scoping in one place: every statement on a shard table is built through `Scope`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Delete,
    Select,
    Table,
    Update,
    bindparam,
    delete,
    select,
    update,
)


@dataclass(frozen=True)
class Scope:
    """Who is asking: the tenant whose rows are visible, and the actor recorded on writes."""

    tenant_id: str | None = None
    actor: str = "system"
    actor_email: str | None = None  # where a person reads who did it (a Frame user's email)
    admin: bool = False  # a Frame user with the admin role, or the operator's command line

    def owns(self, table: Table) -> ColumnElement[bool]:
        column = table.c.tenant_id
        return column.is_(None) if self.tenant_id is None else column == self.tenant_id

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
    """`Scope.owns` in a statement built once: the tenant is the execution's parameter `name`
    (None: the rows of no tenant)."""
    column = table.c.tenant_id
    return column.is_(None) if name is None else column == bindparam(name)
