"""Events that are never lost: written to the outbox in the transaction of the change they
describe, placed in the feed after commit, then handed to the Frame's bus.

Writing (`append`) takes no lock shared with other writers: an event is written in the order
of its `sequence` key, without a place in the feed. Placing (`place`) gives committed events
without one the next `position`s in one short transaction; the placers of several processes
take turns (on PostgreSQL under an advisory lock only they take, on SQLite under its write
lock), so each turn commits one block of positions above every earlier block, and a reader of
the feed never sees a position before every lower one is visible. Delivering (`deliver`)
hands placed events to the bus in position order and marks those it took: at least once, as a
process killed between handing them over and marking them hands them over again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import RowMapping, Select, bindparam, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..db.session import Database
from ..db.tables import outbox
from .clock import now_text

logger = logging.getLogger(__name__)

SOURCE = "packets"
PLACER_LOCK_KEY = 0x7061636B657473  # "packets"
BATCH = 500


@dataclass(frozen=True)
class Event:
    event_type: str
    payload: dict[str, Any]


async def append(conn: AsyncConnection, tenant_id: str | None, events: Sequence[Event]) -> None:
    if not events:
        return
    now = now_text()
    await conn.execute(
        insert(outbox),
        [
            {
                "event_type": event.event_type,
                "payload": json.dumps(event.payload, sort_keys=True),
                "created_at": now,
                "tenant_id": tenant_id,
            }
            for event in events
        ],
    )


def _unplaced(limit: int) -> Select[Any]:
    return (
        select(outbox.c.sequence)
        .where(outbox.c.position.is_(None))
        .order_by(outbox.c.sequence)
        .limit(limit)
    )


async def place(database: Database) -> int:
    """Gives committed events without a position the next positions, oldest first."""
    placed = 0
    while True:
        async with database.writing() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": PLACER_LOCK_KEY}
                )
            last = select(func.coalesce(func.max(outbox.c.position), 0)).scalar_subquery()
            rows = (await conn.execute(_unplaced(BATCH).add_columns(last.label("last")))).all()
            if rows:
                await conn.execute(
                    update(outbox)
                    .where(outbox.c.sequence == bindparam("key"))
                    .values(position=bindparam("place")),
                    [
                        {"key": row.sequence, "place": rows[0].last + n}
                        for n, row in enumerate(rows, 1)
                    ],
                )
        placed += len(rows)
        if len(rows) < BATCH:
            return placed


async def has_unplaced(database: Database) -> bool:
    async with database.reading() as conn:
        return (await conn.execute(_unplaced(1))).first() is not None


@dataclass
class Handed:
    """What one batch handed to the bus came to."""

    sent: list[int] = field(default_factory=list)
    refused: int | None = None
    complete: bool = True


async def deliver(database: Database, bus: Any) -> int:
    """Hands placed events to the bus in feed order; stops at the first it refuses."""
    delivered = 0
    while True:
        handed = await _deliver_batch(database, bus)
        delivered += len(handed.sent)
        if handed.complete or handed.refused is not None:
            return delivered


async def _deliver_batch(database: Database, bus: Any) -> Handed:
    pending = (
        select(outbox.c.sequence, outbox.c.event_type, outbox.c.payload)
        .where(outbox.c.position.is_not(None), outbox.c.delivered_at.is_(None))
        .order_by(outbox.c.position)
        .limit(BATCH)
    )
    if database.dialect == "postgresql":
        # The rows stay locked until they are marked: other processes' relays skip them.
        async with database.writing() as conn:
            rows = await _rows(conn, pending.with_for_update(skip_locked=True))
            handed = await _hand_over(bus, rows)
            await _mark(conn, handed)
    else:
        # Holding SQLite's write lock while the bus works would stop every writer: read, hand
        # over, then mark (so two processes on one file may both hand an event over).
        async with database.reading() as conn:
            rows = await _rows(conn, pending)
        handed = await _hand_over(bus, rows)
        if handed.sent or handed.refused is not None:
            async with database.writing() as conn:
                await _mark(conn, handed)
    handed.complete = len(rows) < BATCH
    return handed


async def _rows(conn: AsyncConnection, statement: Select[Any]) -> Sequence[RowMapping]:
    rows: Sequence[RowMapping] = (await conn.execute(statement)).mappings().all()
    return rows


async def _hand_over(bus: Any, rows: Sequence[RowMapping]) -> Handed:
    handed = Handed()
    for row in rows:
        try:
            await bus.emit(row["event_type"], json.loads(row["payload"]), source=SOURCE)
        except Exception:
            logger.exception("event bus refused %s; will retry", row["event_type"])
            handed.refused = row["sequence"]
            break
        handed.sent.append(row["sequence"])
    return handed


async def _mark(conn: AsyncConnection, handed: Handed) -> None:
    if handed.sent:
        await conn.execute(
            update(outbox).where(outbox.c.sequence.in_(handed.sent)).values(delivered_at=now_text())
        )
    if handed.refused is not None:
        await conn.execute(
            update(outbox)
            .where(outbox.c.sequence == handed.refused)
            .values(attempts=outbox.c.attempts + 1)
        )


async def pending(database: Database) -> int:
    async with database.reading() as conn:
        statement = select(func.count()).where(outbox.c.delivered_at.is_(None))
        return int((await conn.execute(statement)).scalar_one())
