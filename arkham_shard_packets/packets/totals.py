"""Totals of packets, items, versions and shares read from the tallies (kept by the triggers of
migration 0006), at a cost that does not grow with the number of packets.

Reading sums the tally rows of the caller's tenant. Writers only ever append to them, so once
a read finds more than `FOLD_AFTER` rows it folds them back into one row per group, in a
transaction of its own.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Insert,
    func,
    insert,
    or_,
    select,
    text,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from ..core.unit_of_work import Transactions
from ..db.scope import Scope
from ..db.tables import packet_tallies

logger = logging.getLogger(__name__)

FOLD_AFTER = 256
# Any constant: PostgreSQL advisory lock that lets only one fold run at a time.
FOLD_LOCK = 0x41524B50

t = packet_tallies.c
SUMMED = [t.packets, t.contents, t.size_bytes, t["items"], t.versions, t.shares, t.open_shares]
GROUPS = [t.status, t.visibility, t.content_type]
KEYS = [t.tenant_id, *GROUPS]


@dataclass(frozen=True)
class Bucket:
    status: str
    visibility: str
    packets: int
    contents: int
    size_bytes: int


@dataclass
class Totals:
    buckets: list[Bucket] = field(default_factory=list)
    items: dict[str, int] = field(default_factory=dict)
    versions: int = 0
    # shares not revoked, and of those the ones that never expire
    shares: int = 0
    open_shares: int = 0
    rows_read: int = 0

    def packets(self, status: str | None = None, visibility: str | None = None) -> int:
        return sum(
            b.packets
            for b in self.buckets
            if (status is None or b.status == status)
            and (visibility is None or b.visibility == visibility)
        )

    def by(self, attribute: str) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for bucket in self.buckets:
            counts[getattr(bucket, attribute)] += bucket.packets
        return {key: n for key, n in counts.items() if n}


async def read_totals(conn: AsyncConnection, scope: Scope) -> Totals:
    statement = scope.select(
        packet_tallies, *GROUPS, *(func.sum(c) for c in SUMMED), func.count()
    ).group_by(*GROUPS)
    totals = Totals()
    for row in await conn.execute(statement):
        status, visibility, kind, packets, contents, size, items, versions, shares, open_, rows = (
            row
        )
        totals.rows_read += int(rows)
        totals.versions += int(versions)
        totals.shares += int(shares)
        totals.open_shares += int(open_)
        if kind is not None:
            if items:
                totals.items[kind] = int(items)
        elif packets:
            totals.buckets.append(
                Bucket(status, visibility, int(packets), int(contents), int(size))
            )
    return totals


async def fold_if_needed(transactions: Transactions, scope: Scope, totals: Totals) -> None:
    if totals.rows_read <= FOLD_AFTER:
        return
    try:
        async with transactions.write(scope) as work:
            await fold(work.conn, scope)
    except SQLAlchemyError:
        # The totals stay right unfolded; only reading them costs more until the next fold.
        logger.warning("packets: folding the tallies failed; will retry", exc_info=True)


async def fold(conn: AsyncConnection, scope: Scope) -> None:
    """Replaces the scope's tally rows with one per group holding the same sums, in SQL."""
    if conn.dialect.name == "postgresql":
        locked = await conn.scalar(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": FOLD_LOCK}
        )
        if not locked:
            return
        # One statement sums exactly the rows it deletes, whatever commits meanwhile.
        moved = scope.delete(packet_tallies).returning(*KEYS, *SUMMED).cte("moved")
        await conn.execute(insert_sums([moved.c[c.name] for c in KEYS], moved))
        return
    # SQLite: this transaction is the only writer, so rows up to `last` stay as they were read.
    last = await conn.scalar(scope.select(packet_tallies, func.max(t.id)))
    if last is None:
        return
    await conn.execute(insert_sums(KEYS, packet_tallies, scope.owns(packet_tallies), t.id <= last))
    await conn.execute(scope.delete(packet_tallies).where(t.id <= last))


def insert_sums(keys: list[Any], source: FromClause, *where: ColumnElement[bool]) -> Insert:
    sums = [func.sum(source.c[c.name]) for c in SUMMED]
    summed = select(*keys, *sums).where(*where).group_by(*keys).having(or_(*(s != 0 for s in sums)))
    return insert(packet_tallies).from_select([c.name for c in (*KEYS, *SUMMED)], summed)
