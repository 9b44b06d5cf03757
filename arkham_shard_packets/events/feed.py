"""The outbox as a durable feed, for consumers in other processes, in the order of the positions
the relay hands out after commit: a reader never sees a position before every lower one."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ..core.relay import OutboxRelay
from ..core.unit_of_work import Transactions
from ..db.scope import Page, Scope, page_by_tenant
from ..db.tables import outbox


@dataclass(frozen=True)
class FeedEvent:
    sequence: int
    event_type: str
    payload: dict[str, Any]
    source: str
    created_at: str


class EventFeed:
    def __init__(self, transactions: Transactions, relay: OutboxRelay) -> None:
        self.tx = transactions
        self.relay = relay

    async def after(self, scope: Scope, position: int, limit: int) -> list[FeedEvent]:
        """Events past `position`; those this process committed before the call included."""
        await self.relay.placed()
        statement = page_by_tenant(
            scope,
            outbox,
            lambda owned: select(outbox).where(owned, outbox.c.position > position),
            Page([outbox.c.position], limit),
        )
        async with self.tx.read(scope) as work:
            rows = (await work.conn.execute(statement)).mappings().all()
        return [
            FeedEvent(
                sequence=row["position"],
                event_type=row["event_type"],
                payload=json.loads(row["payload"]),
                source="packets",
                created_at=row["created_at"],
            )
            for row in rows
        ]
