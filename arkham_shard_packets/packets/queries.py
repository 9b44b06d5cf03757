"""Reading many packets at once: filtered listing, the badge count and statistics, all in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..core.clock import now_text, to_text
from ..core.unit_of_work import Transactions
from ..db import search
from ..db.scope import Page, Scope, page_by_tenant
from ..db.tables import packet_contents, packet_shares, packets
from ..models import (
    ContentType,
    MatchedItem,
    Packet,
    PacketFilter,
    PacketStatistics,
    PacketStatus,
)
from ..records.packets import packet_from_row
from .totals import Totals, fold_if_needed, read_totals

SORTABLE = {
    "created_at": packets.c.created_at,
    "updated_at": packets.c.updated_at,
    "name": packets.c.name,
    "contents_count": packets.c.contents_count,
}


@dataclass(frozen=True)
class Window:
    limit: int
    offset: int
    sort: str = "created_at"
    descending: bool = True


def filter_conditions(criteria: PacketFilter, dialect: str) -> list[ColumnElement[bool]]:
    c = packets.c
    conditions: list[ColumnElement[bool]] = []
    if criteria.status is not None:
        conditions.append(c.status == criteria.status.value)
    if criteria.visibility is not None:
        conditions.append(c.visibility == criteria.visibility.value)
    if criteria.created_by is not None:
        conditions.append(c.created_by == criteria.created_by)
    if criteria.search_text:
        conditions.append(search.contains(dialect, criteria.search_text))
    if criteria.has_contents is not None:
        conditions.append(c.contents_count > 0 if criteria.has_contents else c.contents_count == 0)
    if criteria.min_version is not None:
        conditions.append(c.version >= criteria.min_version)
    if criteria.created_after is not None:
        conditions.append(c.created_at >= to_text(criteria.created_after))
    if criteria.created_before is not None:
        conditions.append(c.created_at <= to_text(criteria.created_before))
    return conditions


def counted_by_tallies(criteria: PacketFilter) -> bool:
    """Whether the tallies hold this filter's total: no filter but status and visibility."""
    return replace(criteria, status=None, visibility=None) == PacketFilter()


def page_query(
    scope: Scope, window: Window, conditions: list[ColumnElement[bool]], led_by_fts: bool
) -> Select[Any]:
    """One page of the scope's packets that meet `conditions`, in the window's order, read
    from each tenant's (tenant_id, sort, id) index."""

    def rows(owned: ColumnElement[bool]) -> Select[Any]:
        return select(packets).where(
            search.led_by_matches(owned) if led_by_fts else owned, *conditions
        )

    keys = (SORTABLE[window.sort], packets.c.id)
    return page_by_tenant(
        scope, packets, rows, Page(keys, window.limit, window.offset, window.descending)
    )


@dataclass(frozen=True)
class PacketList:
    """A page of packets, how many match in all, and for a search the items each packet of
    the page was found by (a few at most; none for a packet found by its own text alone)."""

    packets: list[Packet]
    total: int
    matched: dict[str, list[MatchedItem]] = field(default_factory=dict)


async def matched_items(
    conn: AsyncConnection, scope: Scope, searched: str, packet_ids: Sequence[str]
) -> dict[str, list[MatchedItem]]:
    found: dict[str, list[MatchedItem]] = {packet_id: [] for packet_id in packet_ids}
    if not packet_ids:
        return found
    statement = search.matched_items(
        scope.owns(packet_contents), conn.dialect.name, searched, packet_ids
    )
    for row in (await conn.execute(statement)).mappings():
        found[row["packet_id"]].append(
            MatchedItem(
                id=row["id"],
                content_type=ContentType(row["content_type"]),
                content_id=row["content_id"],
                content_title=row["content_title"] or "",
                file_name=row["file_name"],
                matched=row["matched"],
            )
        )
    return found


class PacketQueries:
    def __init__(self, transactions: Transactions) -> None:
        self.tx = transactions

    async def list(self, scope: Scope, criteria: PacketFilter, window: Window) -> PacketList:
        totals, matched = None, {}
        async with self.tx.read(scope) as work:
            dialect = work.conn.dialect.name
            conditions = filter_conditions(criteria, dialect)
            led_by_fts = search.uses_fts(dialect, criteria.search_text)
            page = page_query(scope, window, conditions, led_by_fts)
            rows = (await work.conn.execute(page)).mappings().all()
            owned = scope.owns(packets)
            where = and_(search.led_by_matches(owned) if led_by_fts else owned, *conditions)
            if counted_by_tallies(criteria):
                totals = await read_totals(work.conn, scope)
                total = totals.packets(
                    criteria.status and criteria.status.value,
                    criteria.visibility and criteria.visibility.value,
                )
            else:
                count = select(func.count()).select_from(packets).where(where)
                total = (await work.conn.execute(count)).scalar_one()
            if criteria.search_text:
                page_ids = [row["id"] for row in rows]
                matched = await matched_items(work.conn, scope, criteria.search_text, page_ids)
        if totals is not None:
            await fold_if_needed(self.tx, scope, totals)
        return PacketList([packet_from_row(row) for row in rows], total, matched)

    async def count(self, scope: Scope, status: PacketStatus | None) -> int:
        async with self.tx.read(scope) as work:
            totals = await read_totals(work.conn, scope)
        await fold_if_needed(self.tx, scope, totals)
        return totals.packets(status and status.value)

    async def statistics(self, scope: Scope) -> PacketStatistics:
        async with self.tx.read(scope) as work:
            totals = await read_totals(work.conn, scope)
            expiring = await work.conn.scalar(
                scope.select(packet_shares, func.count()).where(
                    packet_shares.c.expires_at > now_text(), packet_shares.c.revoked_at.is_(None)
                )
            )
        active = totals.open_shares + int(expiring or 0)
        await fold_if_needed(self.tx, scope, totals)
        total = totals.packets()
        return PacketStatistics(
            total_packets=total,
            by_status=totals.by("status"),
            by_visibility=totals.by("visibility"),
            total_contents=sum(totals.items.values()),
            by_content_type=dict(totals.items),
            total_shares=totals.shares,
            active_shares=active,
            expired_shares=totals.shares - active,
            total_versions=totals.versions,
            avg_contents_per_packet=average(totals, "contents"),
            avg_size_bytes=average(totals, "size_bytes"),
        )


def average(totals: Totals, attribute: str) -> float:
    count = totals.packets()
    if not count:
        return 0.0
    summed: int = sum(getattr(b, attribute) for b in totals.buckets)
    return round(summed / count, 3)
