"""PacketsShard: how the Frame (or our standalone host) starts, serves and stops the shard."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter

from .api import PREFIX, build_router
from .core.file_modes import FileModes
from .db.engine import create_engine
from .db.schema import ensure_newest
from .db.session import Database
from .errors import ServiceMissing
from .frame.callers import CallerRules, caller_rules
from .frame.seam import (
    ArkhamShard,
    frame_database_url,
    offered_settings,
    optional_service,
    required_service,
    shard_data_dir,
    with_frame_config,
)
from .frame.user_cache import UserCache
from .sharing import log_redaction
from .sharing.routes import opens_share_link
from .version import __version__
from .wiring import Services

logger = logging.getLogger(__name__)

STATE_KEY = "packets_shard"


class PacketsShard(ArkhamShard):
    name = "packets"
    version = __version__
    description = "Investigation packets: bundle, finalize, share, export and verify evidence"

    def __init__(self) -> None:
        super().__init__()
        self.services: Services | None = None
        self.callers = CallerRules()

    async def initialize(self, frame: Any) -> None:
        self.frame = frame
        database_service = required_service(frame, "database")
        bus = required_service(frame, "events")
        storage = optional_service(frame, "storage")
        if storage is None:
            logger.info("packets: no storage service; files stay in the shard's data directory")
        settings = with_frame_config(offered_settings(frame), frame)
        users = UserCache(settings.user_cache_seconds, settings.user_cache_size)
        self.callers = caller_rules(frame, settings.require_user, users)
        url = settings.database_url or frame_database_url(database_service)
        if not url:
            raise ServiceMissing("the Frame's database service has no config.database_url")
        modes = FileModes(settings.data_dir_mode)
        data_dir = shard_data_dir(storage, settings.data_dir)
        modes.own_folder(data_dir)
        engine = create_engine(
            url, sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms, file_mode=modes.file
        )
        try:
            await ensure_newest(engine)
        except Exception:
            await engine.dispose()
            raise
        try:
            self.services = Services.build(
                settings,
                Database(engine, sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms),
                bus,
                storage,
                data_dir=data_dir,
                frame=frame,
            )
            await self.services.keyring.prepare()  # the installation's signing key
            # written, read and deleted from, or the shard refuses to start saying why; its
            # folders here (a spool's, the local store's) made in the configured mode
            await self.services.files.check()
            await self.services.imports.prepare()
        except Exception:
            if self.services is not None:
                await self.services.files.close()
            self.services = None
            await engine.dispose()
            raise
        try:
            await self.services.recovery.sweep()
        except Exception:
            logger.exception("packets: the start-up sweep failed; stray files stay on disk")
        self.services.recovery.start()
        self.services.relay.start()
        self.services.share_uses.start()
        log_redaction.install()
        app = getattr(frame, "app", None)
        if app is not None:
            setattr(app.state, STATE_KEY, self)

    async def shutdown(self) -> None:
        if self.services is not None:
            await self.services.recovery.stop()
            await self.services.share_uses.stop()
            await self.services.relay.stop()
            await self.services.files.close()
            await self.services.database.dispose()
            self.services = None

    async def store_health(self) -> dict[str, Any]:
        """Which store keeps the files, and whether it answers now (for the host's health)."""
        if self.services is None:
            return {}
        store = self.services.files
        return {"backend": store.backend, "reachable": await store.reachable()}

    def get_routes(self) -> APIRouter:
        return build_router()

    def is_public_request(self, method: str, path: str) -> bool:
        """Share link requests carry their own credential, the token: a host's API login
        must let them through, since a share link is for people without an account."""
        return path.startswith(f"{PREFIX}/") and opens_share_link(method, path.removeprefix(PREFIX))
