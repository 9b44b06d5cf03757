"""The host's own routes that show what its shards hold: the bus's recent events and the loaded
shards. They admit callers by the packets shard's rules (`deps.get_scope`: 401 without a user
where one is required, or for a token that names none) and show a caller only its own
tenant's; the open ones (the docs, `/api/health`) are in `app.py`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from ..deps import ScopeDep, ServicesDep, get_scope
from ..routing import PacketsRoute, error_responses
from .events import HISTORY, EventBus


def manifest_listing(shards: dict[str, Any]) -> dict[str, Any]:
    listed = [
        {**shard.manifest.to_dict(), "loaded": True, "enabled": True} for shard in shards.values()
    ]
    listed.sort(key=lambda m: (m.get("navigation") or {}).get("order", 99))
    return {"shards": listed, "count": len(listed), "loaded_count": len(listed)}


class HostEvent(BaseModel):
    event_type: str
    payload: dict[str, Any]
    source: str
    timestamp: str
    sequence: int


class HostEvents(BaseModel):
    events: list[HostEvent]
    count: int


def host_router(bus: EventBus) -> APIRouter:
    router = APIRouter(route_class=PacketsRoute, tags=["host"], responses=error_responses(401))

    @router.get("/api/events/", response_model=HostEvents, summary="Recent in-process events")
    async def events(
        services: ServicesDep,
        scope: ScopeDep,
        source: str | None = Query(None, description="Only events from this source (packets)"),
        limit: int = Query(100, ge=1, le=HISTORY, description="At most this many, newest first"),
    ) -> HostEvents:
        """The in-process bus's last events that name a packet of the caller's tenant, newest
        first, in the Frame's shape; lost at a restart. A caller is admitted as by the packets
        routes (`401` without a user where one is required). The packets shard's durable
        feed is `GET /api/packets/events`."""
        shown = (await services.feed.visible(scope, bus.recent(source, HISTORY)))[:limit]
        return HostEvents.model_validate({"events": shown, "count": len(shown)})

    @router.get("/api/shards/", dependencies=[Depends(get_scope)], summary="List the loaded shards")
    async def shards(request: Request) -> dict[str, Any]:
        """The loaded shards' manifests, in the Frame's shape, sorted by navigation order; to
        a caller the packets routes admit."""
        return manifest_listing(request.app.state.frame.shards)

    return router
