"""Everything the routes need, built once per shard from the engine and the Frame's services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ..config import Settings
from ..db.session import Database
from .batch import BatchService
from .contents import ContentService
from .feed import EventFeed
from .integrity import IntegrityService
from .outbox import OutboxDispatcher
from .packets import PacketService
from .queries import PacketQueries
from .share_access import ShareAccessService
from .shares import ShareService
from .unit_of_work import Transactions
from .versions import VersionService


@dataclass
class Services:
    settings: Settings
    database: Database
    storage: Any
    dispatcher: OutboxDispatcher
    packets: PacketService
    contents: ContentService
    queries: PacketQueries
    batch: BatchService
    feed: EventFeed
    versions: VersionService
    integrity: IntegrityService
    shares: ShareService
    share_access: ShareAccessService

    @classmethod
    def build(cls, settings: Settings, database: Database, bus: Any, storage: Any) -> Services:
        dispatcher = OutboxDispatcher(database, bus, settings.outbox_retry_seconds)
        transactions = Transactions(database, dispatcher)
        packets = PacketService(transactions)
        return cls(
            settings=settings,
            database=database,
            storage=storage,
            dispatcher=dispatcher,
            packets=packets,
            contents=ContentService(transactions),
            queries=PacketQueries(transactions),
            batch=BatchService(packets),
            feed=EventFeed(transactions),
            versions=VersionService(transactions),
            integrity=IntegrityService(transactions),
            shares=ShareService(transactions),
            share_access=ShareAccessService(
                transactions, timedelta(seconds=settings.share_lockout_seconds)
            ),
        )
