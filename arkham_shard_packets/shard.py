"""PacketsShard: how the Frame (or our standalone host) starts, serves and stops the shard."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter

from .api import build_router
from .config import Settings
from .db.engine import create_engine, create_schema
from .db.session import Database
from .errors import ServiceMissing
from .frame import (
    ArkhamShard,
    frame_database_url,
    optional_service,
    required_service,
    shard_data_dir,
)
from .services.container import Services

logger = logging.getLogger(__name__)

STATE_KEY = "packets_shard"


class PacketsShard(ArkhamShard):
    name = "packets"
    version = "0.1.0"
    description = "Investigation packets: bundle, finalize, share, export and verify evidence"

    def __init__(self) -> None:
        super().__init__()
        self.services: Services | None = None

    async def initialize(self, frame: Any) -> None:
        self.frame = frame
        database_service = required_service(frame, "database")
        bus = required_service(frame, "events")
        storage = optional_service(frame, "storage")
        if storage is None:
            logger.info("packets: no storage service; files stay in the shard's data directory")
        settings = Settings()
        url = settings.database_url or frame_database_url(database_service)
        if not url:
            raise ServiceMissing("the Frame's database service has no config.database_url")
        engine = create_engine(url, sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms)
        try:
            await create_schema(engine)
        except Exception:
            await engine.dispose()
            raise
        self.services = Services.build(
            settings,
            Database(engine),
            bus,
            storage,
            data_dir=shard_data_dir(frame, storage, settings.data_dir),
            frame=frame,
        )
        app = getattr(frame, "app", None)
        if app is not None:
            setattr(app.state, STATE_KEY, self)

    async def shutdown(self) -> None:
        if self.services is not None:
            await self.services.database.dispose()
            self.services = None

    def get_routes(self) -> APIRouter:
        return build_router()
