"""The shard's router: every route under /api/packets.

Fixed paths are registered before `/{packet_id}` ones, so `/count` or `/stats/...` is never
taken for a packet id.
"""

from __future__ import annotations

from fastapi import APIRouter

from .attachments import routes as files
from .bundles import routes as bundles
from .custody import routes as custody
from .events import routes as events
from .keys import routes as keys
from .packets import batch_routes as batch
from .packets import contents_routes as contents
from .packets import routes as packets
from .routing import PacketsRoute, error_responses
from .sharing import router as sharing
from .versions import routes as versions

PREFIX = "/api/packets"


def build_router() -> APIRouter:
    # 401 and 403: the caller's Frame user (frame/callers.py), or a share link's password
    router = APIRouter(
        prefix=PREFIX,
        tags=["packets"],
        route_class=PacketsRoute,
        responses=error_responses(401, 403),
    )
    router.include_router(packets.collection)
    router.include_router(bundles.collection)
    router.include_router(batch.router)
    router.include_router(events.router)
    router.include_router(sharing.router)
    router.include_router(keys.router)
    router.include_router(packets.item)
    router.include_router(contents.router)
    router.include_router(files.router)
    router.include_router(versions.router)
    router.include_router(custody.router)
    router.include_router(bundles.item)
    return router
