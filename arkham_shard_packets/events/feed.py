"""The outbox as a durable feed, for consumers in other processes, in the order of the positions
the relay hands out after commit: a reader never sees a position before every lower one; and
which of the events a bus kept a caller may see.

An event's place in the feed is the outbox's `position` column, never its `sequence` column
(the key an event takes when it is written, in the order of its writers' inserts, not of their
commits). The feed's answer names the position `sequence` (events/routes.py), as it always has:
consumers read that field."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select

from ..core.unit_of_work import Transactions
from ..db.scope import Page, Scope, page_by_tenant
from ..db.tables import outbox, packets
from .relay import OutboxRelay

BusEvent = TypeVar("BusEvent", bound=Mapping[str, Any])
IDS_PER_STATEMENT = 500  # below SQLite's oldest limit on bound parameters (999)


@dataclass(frozen=True)
class FeedEvent:
    position: int  # its place in the feed: the outbox's `position`
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
                position=row["position"],
                event_type=row["event_type"],
                payload=json.loads(row["payload"]),
                source="packets",
                created_at=row["created_at"],
            )
            for row in rows
        ]

    async def visible(self, scope: Scope, events: Sequence[BusEvent]) -> list[BusEvent]:
        """The events of a bus's history (the Frame's shape: `payload` with the `packet_id`)
        that name a packet of the caller's tenant. The bus keeps no tenant, so the packet
        says whose an event is; one that names no packet of ours is nobody's to see."""
        ids = sorted({each for event in events if (each := packet_of(event)) is not None})
        owned: set[str] = set()
        async with self.tx.read(scope) as work:
            for start in range(0, len(ids), IDS_PER_STATEMENT):
                chunk = ids[start : start + IDS_PER_STATEMENT]
                statement = scope.select(packets, packets.c.id).where(packets.c.id.in_(chunk))
                owned.update((await work.conn.scalars(statement)).all())
        return [event for event in events if packet_of(event) in owned]


def packet_of(event: Mapping[str, Any]) -> str | None:
    payload = event.get("payload")
    packet_id = payload.get("packet_id") if isinstance(payload, Mapping) else None
    return packet_id if isinstance(packet_id, str) else None
