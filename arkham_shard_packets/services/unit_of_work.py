"""A unit of work: one transaction, the scope it runs in, and the events it will publish."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ..db.scope import Scope
from ..db.session import Database
from .events import Event, EventPublisher


@dataclass
class UnitOfWork:
    conn: AsyncConnection
    scope: Scope
    events: list[Event] = field(default_factory=list)

    def emit(self, event_type: str, **payload: Any) -> None:
        self.events.append(Event(event_type, payload))


class Transactions:
    def __init__(self, database: Database, publisher: EventPublisher) -> None:
        self.database = database
        self.publisher = publisher

    @asynccontextmanager
    async def write(self, scope: Scope) -> AsyncIterator[UnitOfWork]:
        """Commits when the block ends cleanly, then publishes what the block emitted."""
        async with self.database.writing() as conn:
            work = UnitOfWork(conn, scope)
            yield work
        await self.publisher.publish(work.events)

    @asynccontextmanager
    async def read(self, scope: Scope) -> AsyncIterator[UnitOfWork]:
        async with self.database.reading() as conn:
            yield UnitOfWork(conn, scope)
