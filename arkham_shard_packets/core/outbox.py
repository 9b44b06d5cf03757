"""Events that are never lost: written to the outbox with the change, delivered after commit.

Writing: the unit of work inserts its events just before it commits. On PostgreSQL it first
takes a transaction-scoped advisory lock, so sequence numbers are handed out in commit order
and a reader of the feed never sees 7 before 6 becomes visible.

Delivering: after each commit, and every few seconds in the background (so events left
pending by a failing bus or a crash are retried, also after a restart), pending events go to
the Frame's bus in sequence order, at least once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..db.session import Database
from ..db.tables import outbox
from .clock import now_text

logger = logging.getLogger(__name__)

SOURCE = "packets"
OUTBOX_LOCK_KEY = 0x7061636B657473  # "packets"
BATCH = 200


@dataclass(frozen=True)
class Event:
    event_type: str
    payload: dict[str, Any]


async def append(conn: AsyncConnection, tenant_id: str | None, events: Sequence[Event]) -> None:
    if not events:
        return
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": OUTBOX_LOCK_KEY})
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


class OutboxDispatcher:
    def __init__(self, database: Database, bus: Any, retry_seconds: float = 2.0) -> None:
        self.database = database
        self.bus = bus
        self.retry_seconds = retry_seconds
        self._delivering = asyncio.Lock()
        self._retry_task: asyncio.Task[None] | None = None

    async def deliver(self) -> int:
        """Deliver what is pending, oldest first; stop at the first event the bus refuses.
        Without a bus (the offline CLI) everything stays pending for a process that has one."""
        if self.bus is None:
            return 0
        delivered = 0
        async with self._delivering:
            while True:
                sent, done = await self._deliver_batch()
                delivered += sent
                if done:
                    return delivered

    async def _deliver_batch(self) -> tuple[int, bool]:
        async with self.database.writing() as conn:
            pending = (
                select(outbox)
                .where(outbox.c.delivered_at.is_(None))
                .order_by(outbox.c.sequence)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
            rows = (await conn.execute(pending)).mappings().all()
            sent: list[int] = []
            refused = False
            for row in rows:
                try:
                    await self.bus.emit(
                        row["event_type"], json.loads(row["payload"]), source=SOURCE
                    )
                except Exception:
                    logger.exception("event bus refused %s; will retry", row["event_type"])
                    await conn.execute(
                        update(outbox)
                        .where(outbox.c.sequence == row["sequence"])
                        .values(attempts=outbox.c.attempts + 1)
                    )
                    refused = True
                    break
                sent.append(row["sequence"])
            if sent:
                await conn.execute(
                    update(outbox)
                    .where(outbox.c.sequence.in_(sent))
                    .values(delivered_at=now_text())
                )
        return len(sent), refused or len(rows) < BATCH

    async def pending(self) -> int:
        async with self.database.reading() as conn:
            statement = select(func.count()).where(outbox.c.delivered_at.is_(None))
            return int((await conn.execute(statement)).scalar_one())

    def start(self) -> None:
        self._retry_task = asyncio.create_task(self._retry_forever())

    async def stop(self) -> None:
        if self._retry_task is not None:
            self._retry_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retry_task
            self._retry_task = None

    async def _retry_forever(self) -> None:
        while True:
            try:
                await self.deliver()
            except Exception:
                logger.exception("outbox delivery failed; will retry")
            await asyncio.sleep(self.retry_seconds)
