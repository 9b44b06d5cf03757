"""Reading many packets at once: filtered listing, the badge count and statistics, all in SQL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select

from ..db.scope import Scope
from ..db.tables import packet_contents, packet_shares, packet_versions, packets
from ..models import Packet, PacketFilter, PacketStatistics, PacketStatus
from ..timeutil import now_text, to_text
from .records import packet_from_row
from .unit_of_work import Transactions

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


def like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def filter_conditions(criteria: PacketFilter) -> list[ColumnElement[bool]]:
    c = packets.c
    conditions: list[ColumnElement[bool]] = []
    if criteria.status is not None:
        conditions.append(c.status == criteria.status.value)
    if criteria.visibility is not None:
        conditions.append(c.visibility == criteria.visibility.value)
    if criteria.created_by is not None:
        conditions.append(c.created_by == criteria.created_by)
    if criteria.search_text:
        pattern = like_pattern(criteria.search_text)
        conditions.append(
            or_(c.name.ilike(pattern, escape="\\"), c.description.ilike(pattern, escape="\\"))
        )
    if criteria.has_contents is not None:
        conditions.append(c.contents_count > 0 if criteria.has_contents else c.contents_count == 0)
    if criteria.min_version is not None:
        conditions.append(c.version >= criteria.min_version)
    if criteria.created_after is not None:
        conditions.append(c.created_at >= to_text(criteria.created_after))
    if criteria.created_before is not None:
        conditions.append(c.created_at <= to_text(criteria.created_before))
    return conditions


class PacketQueries:
    def __init__(self, transactions: Transactions) -> None:
        self.tx = transactions

    async def list(
        self, scope: Scope, criteria: PacketFilter, window: Window
    ) -> tuple[list[Packet], int]:
        where = and_(scope.owns(packets), *filter_conditions(criteria))
        sort_column = SORTABLE[window.sort]
        ordering = (
            (sort_column.desc(), packets.c.id.desc())
            if window.descending
            else (sort_column.asc(), packets.c.id.asc())
        )
        page = select(packets).where(where).order_by(*ordering)
        page = page.limit(window.limit).offset(window.offset)
        async with self.tx.read(scope) as work:
            total = (
                await work.conn.execute(select(func.count()).select_from(packets).where(where))
            ).scalar_one()
            rows = (await work.conn.execute(page)).mappings().all()
        return [packet_from_row(row) for row in rows], total

    async def count(self, scope: Scope, status: PacketStatus | None) -> int:
        statement = scope.select(packets, func.count())
        if status is not None:
            statement = statement.where(packets.c.status == status.value)
        async with self.tx.read(scope) as work:
            return int((await work.conn.execute(statement)).scalar_one())

    async def statistics(self, scope: Scope) -> PacketStatistics:
        now = now_text()
        async with self.tx.read(scope) as work:
            by_status = await self._grouped(work.conn, scope, packets, packets.c.status)
            by_visibility = await self._grouped(work.conn, scope, packets, packets.c.visibility)
            by_type = await self._grouped(
                work.conn, scope, packet_contents, packet_contents.c.content_type
            )
            averages = (
                await work.conn.execute(
                    scope.select(
                        packets,
                        func.coalesce(func.avg(packets.c.contents_count), 0),
                        func.coalesce(func.avg(packets.c.size_bytes), 0),
                    )
                )
            ).one()
            expires = packet_shares.c.expires_at
            shares = (
                await work.conn.execute(
                    scope.select(
                        packet_shares,
                        func.count(),
                        func.coalesce(
                            func.sum(case((or_(expires.is_(None), expires > now), 1), else_=0)), 0
                        ),
                    ).where(packet_shares.c.revoked_at.is_(None))
                )
            ).one()
            versions = (
                await work.conn.execute(scope.select(packet_versions, func.count()))
            ).scalar_one()
        return PacketStatistics(
            total_packets=sum(by_status.values()),
            by_status=by_status,
            by_visibility=by_visibility,
            total_contents=sum(by_type.values()),
            by_content_type=by_type,
            total_shares=int(shares[0]),
            active_shares=int(shares[1]),
            expired_shares=int(shares[0]) - int(shares[1]),
            total_versions=int(versions),
            avg_contents_per_packet=round(float(averages[0]), 3),
            avg_size_bytes=round(float(averages[1]), 3),
        )

    @staticmethod
    async def _grouped(conn: Any, scope: Scope, table: Any, column: Any) -> dict[str, int]:
        rows = await conn.execute(scope.select(table, column, func.count()).group_by(column))
        return {str(key): int(n) for key, n in rows.all()}
