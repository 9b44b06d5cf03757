"""The standalone host's FastAPI app: Frame-compatible services, shards found by entry point."""

from __future__ import annotations

import gc
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from functools import cache, partial
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

from ..config import Settings, sqlite_url
from ..core.file_modes import FileModes
from ..openapi import TAGS
from ..version import __version__
from .auth import HostAuth
from .database import HostDatabase
from .events import EventBus
from .mounting import include_shard_router
from .openapi import documented
from .pages import open_router
from .routes import host_router
from .storage import LocalStorage

logger = logging.getLogger(__name__)

SHARD_GROUP = "arkham.shards"
SERVICE_ALIASES = {"db": "database"}
HOST_TAG = {"name": "host", "description": "The standalone host's own Frame-shaped routes."}
HOST_DESCRIPTION = (
    "Investigation packets, served without the Arkham Frame. Every route of the packets shard "
    'is under `/api/packets`; errors are `{"detail": …}` (validation errors a list of '
    "problems). Codes 503 (database or file store unavailable, with Retry-After) and 507 "
    "(disk full) can come from any route, 401 and 403 from any route but `/health` and the "
    "share links. Where a bearer token applies (ARKHAM_PACKETS_API_TOKEN, or Frame users), "
    "Authorize takes it."
)


@dataclass(frozen=True)
class HostConfig:
    data_dir: Path
    database_url: str | None = None
    api_token: str | None = None
    # Frame users and their bearer tokens (the stand-in for the Frame's auth); off when None
    auth: HostAuth | None = None
    # The host exists to serve its shards: one that fails to start stops the host's start-up.
    require_shards: bool = True
    # Where people reach the host (serve --public-base-url): share links' absolute base.
    public_base_url: str | None = None
    # Who may read the data directory (ARKHAM_PACKETS_DATA_DIR_MODE); None: the environment's.
    data_dir_mode: int | None = None

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or sqlite_url(self.data_dir)

    @property
    def modes(self) -> FileModes:
        return FileModes(self.shard_settings().data_dir_mode)

    def shard_settings(self) -> Settings:
        """What the host hands the packets shard: its own data directory and database (so the
        two never differ), everything else from the environment."""
        return Settings.with_flags(
            data_dir=self.data_dir,
            database_url=self.resolved_database_url,
            public_base_url=self.public_base_url,
            data_dir_mode=self.data_dir_mode,
        )


@dataclass
class HostFrame:
    """What a shard's `initialize(frame)` receives: the app, the services, the loaded shards."""

    app: FastAPI
    services: dict[str, Any]
    shards: dict[str, Any] = field(default_factory=dict)
    packets_settings: Settings | None = None  # the host's own, for the packets shard
    auth: HostAuth | None = None  # stands in for the Frame's auth (arkham_frame.auth)
    failed: dict[str, str] = field(default_factory=dict)  # shards that failed to start, why

    @property
    def db(self) -> Any:
        return self.services["database"]

    def get_service(self, name: str) -> Any:
        return self.services.get(SERVICE_ALIASES.get(name, name))


class ShardsFailed(Exception):
    pass


def one_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


@cache
def installed_shards() -> tuple[EntryPoint, ...]:
    """The shards installed, found once a process: a shard installed later needs a restart,
    as in the Frame (reading every installed package's metadata takes milliseconds)."""
    return tuple(entry_points(group=SHARD_GROUP))


async def load_shards(frame: HostFrame) -> None:
    """Discover, initialize and mount shards as the Frame does; a failing shard is skipped
    and remembered in `frame.failed`."""
    for point in installed_shards():
        try:
            shard = point.load()()
            await shard.initialize(frame)
            router = shard.get_routes() or shard.get_api_router()
        except Exception as error:
            frame.failed[point.name] = one_line(error)
            logger.error("shard %s failed to start: %s", point.name, frame.failed[point.name])
            logger.debug("shard %s failed to start", point.name, exc_info=True)
            continue
        if router is not None:
            include_shard_router(frame.app, router)
        frame.shards[point.name] = shard


def opens_freely(app: FastAPI, method: str, path: str) -> bool:
    """A shard may declare requests that carry their own credential (a share link)."""
    frame = getattr(app.state, "frame", None)
    shards = frame.shards.values() if frame is not None else ()
    return any(
        callable(check := getattr(shard, "is_public_request", None)) and check(method, path)
        for shard in shards
    )


def is_public(request: Request) -> bool:
    return opens_freely(request.app, request.method, request.url.path)


def require_token(token: str) -> Callable[..., Awaitable[Response]]:
    expected = f"Bearer {token}".encode()

    async def check(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.url.path.startswith("/api") and not is_public(request):
            sent = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(sent, expected):
                # Closed rather than kept alive: the body it may be sending is never read.
                return JSONResponse(
                    {"detail": "missing or wrong bearer token"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer", "Connection": "close"},
                )
        return await call_next(request)

    return check


_frozen = False


def freeze_start_up() -> None:
    """What the first start-up made lives as long as the process: keeping it out of the
    collector's reach spares every later full collection a walk over it (finalizing a large
    packet allocates enough to trigger some). Only once: an app started again in the same
    process (a test's) would otherwise freeze the garbage of the one before for good."""
    global _frozen
    if not _frozen:
        gc.freeze()
        _frozen = True


def _lifespan(
    config: HostConfig,
    settings: Settings,
    database: HostDatabase,
    bus: EventBus,
    storage: LocalStorage,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The shards' life in the app's: loaded with the host's services at start-up (a shard
    that fails stops it, if `require_shards`), shut down in reverse order at the end."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        frame = HostFrame(
            app,
            {"database": database, "events": bus, "storage": storage},
            packets_settings=settings,
            auth=config.auth,
        )
        app.state.frame = frame
        await load_shards(frame)
        if frame.failed and config.require_shards:
            for shard in reversed(list(frame.shards.values())):
                await shard.shutdown()
            await database.close()
            raise ShardsFailed("; ".join(f"{n}: {why}" for n, why in frame.failed.items()))
        freeze_start_up()
        try:
            yield
        finally:
            for shard in reversed(list(frame.shards.values())):
                await shard.shutdown()
            await database.close()

    return lifespan


def create_app(config: HostConfig) -> FastAPI:
    if config.api_token and config.auth is not None:
        # every request would need the API token as its bearer, which is no user's token
        raise ValueError("an API token and Frame users can't both guard the host: choose one")
    settings = config.shard_settings()  # read from the environment once: it costs ~6 ms
    modes = FileModes(settings.data_dir_mode)
    modes.own_folder(config.data_dir)
    database = HostDatabase(config.resolved_database_url, file_mode=modes.file)
    bus = EventBus()
    storage = LocalStorage(config.data_dir / "storage", modes)

    # FastAPIOffline serves Swagger UI's and ReDoc's files from the installed package; the docs
    # pages themselves are `pages.py`'s (its own would be closures over this app).
    app = FastAPIOffline(
        docs_url=None,
        redoc_url=None,
        title="Arkham Packets (standalone host)",
        version=__version__,
        lifespan=_lifespan(config, settings, database, bus, storage),
        description=HOST_DESCRIPTION,
        openapi_tags=[*TAGS, HOST_TAG],
    )
    if config.api_token:
        app.middleware("http")(require_token(config.api_token))
    users_required = None if config.auth is None else settings.require_user is True
    documented(
        app, partial(opens_freely, app), bool(config.api_token), users_required=users_required
    )
    app.include_router(open_router())
    app.include_router(host_router())
    return app
