"""How long events took from their commit to the bus, read from the outbox afterwards.

An event's `created_at` is stamped as it is written, just before its transaction commits;
`delivered_at` as the bus has taken it. Their difference bounds the time from commit to the
bus from above (it also holds the commit itself and the write of `delivered_at`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from arkham_shard_packets.db.tables import outbox

from .stats import Sample

PATIENCE_S = 30.0


@dataclass
class Delivery:
    lags: Sample
    undelivered: int


async def delivery_since(engine: AsyncEngine, since: str) -> Delivery:
    """Every event written at or after `since` (ISO text), once delivered (or patience ends)."""
    statement = select(outbox.c.created_at, outbox.c.delivered_at).where(
        outbox.c.created_at >= since
    )
    deadline = time.monotonic() + PATIENCE_S
    while True:
        async with engine.connect() as conn:
            rows = (await conn.execute(statement)).all()
        pending = sum(delivered is None for _, delivered in rows)
        if pending == 0 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    lags = Sample(
        [
            (datetime.fromisoformat(delivered) - datetime.fromisoformat(created)).total_seconds()
            for created, delivered in rows
            if delivered is not None
        ]
    )
    return Delivery(lags, pending)
