"""Everything the routes need, built once per shard from the engine and the Frame's services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..db.session import Database
from .batch import BatchService
from .contents import ContentService
from .events import EventPublisher
from .packets import PacketService
from .queries import PacketQueries
from .unit_of_work import Transactions


@dataclass
class Services:
    settings: Settings
    database: Database
    storage: Any
    packets: PacketService
    contents: ContentService
    queries: PacketQueries
    batch: BatchService

    @classmethod
    def build(cls, settings: Settings, database: Database, bus: Any, storage: Any) -> Services:
        transactions = Transactions(database, EventPublisher(bus))
        packets = PacketService(transactions)
        return cls(
            settings=settings,
            database=database,
            storage=storage,
            packets=packets,
            contents=ContentService(transactions),
            queries=PacketQueries(transactions),
            batch=BatchService(packets),
        )
