"""The shard's router: every route under /api/packets.

Fixed paths are registered before `/{packet_id}` ones, so `/count` or `/stats/...` is never
taken for a packet id.
"""

from __future__ import annotations

from fastapi import APIRouter

from .errors import PacketsRoute
from .routes import bundles, contents, files, packets

PREFIX = "/api/packets"


def build_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["packets"], route_class=PacketsRoute)
    router.include_router(packets.collection)
    router.include_router(bundles.collection)
    router.include_router(packets.item)
    router.include_router(contents.router)
    router.include_router(files.router)
    router.include_router(bundles.item)
    return router
