"""The outbox as a durable feed, for consumers in other processes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..core.unit_of_work import Transactions
from ..db.scope import Scope
from ..db.tables import outbox


@dataclass(frozen=True)
class FeedEvent:
    sequence: int
    event_type: str
    payload: dict[str, Any]
    source: str
    created_at: str


class EventFeed:
    def __init__(self, transactions: Transactions) -> None:
        self.tx = transactions

    async def after(self, scope: Scope, sequence: int, limit: int) -> list[FeedEvent]:
        statement = (
            scope.select(outbox)
            .where(outbox.c.sequence > sequence)
            .order_by(outbox.c.sequence)
            .limit(limit)
        )
        async with self.tx.read(scope) as work:
            rows = (await work.conn.execute(statement)).mappings().all()
        return [
            FeedEvent(
                sequence=row["sequence"],
                event_type=row["event_type"],
                payload=json.loads(row["payload"]),
                source="packets",
                created_at=row["created_at"],
            )
            for row in rows
        ]
