"""Everything the routes need, built once per shard from the engine and the Frame's services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ..config import Settings
from ..db.session import Database
from .contents import ContentService
from .events import EventPublisher
from .packets import PacketService
from .queries import PacketQueries
from .share_access import ShareAccessService
from .shares import ShareService
from .unit_of_work import Transactions


@dataclass
class Services:
    settings: Settings
    database: Database
    storage: Any
    packets: PacketService
    contents: ContentService
    queries: PacketQueries
    shares: ShareService
    share_access: ShareAccessService

    @classmethod
    def build(cls, settings: Settings, database: Database, bus: Any, storage: Any) -> Services:
        transactions = Transactions(database, EventPublisher(bus))
        return cls(
            settings=settings,
            database=database,
            storage=storage,
            packets=PacketService(transactions),
            contents=ContentService(transactions),
            queries=PacketQueries(transactions),
            shares=ShareService(transactions),
            share_access=ShareAccessService(
                transactions, timedelta(seconds=settings.share_lockout_seconds)
            ),
        )
