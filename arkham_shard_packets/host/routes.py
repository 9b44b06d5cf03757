"""The host's own routes that show what its shards hold: the bus's recent events and the loaded
shards. They admit callers by the packets shard's rules (`deps.get_scope`: 401 without a user
where one is required, or for a token that names none) and show a caller only its own
tenant's; the open ones (the docs, `/api/health`) are in `pages.py` (the health answers' shape
is here)."""

from __future__ import annotations

import functools
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from ..deps import ScopeDep, ServicesDep, get_scope
from ..records.examples import Answer
from ..routing import PacketsRoute, error_responses
from .events import HISTORY, EventBus


def manifest_listing(shards: dict[str, Any]) -> dict[str, Any]:
    listed = [
        {**shard.manifest.to_dict(), "loaded": True, "enabled": True} for shard in shards.values()
    ]
    listed.sort(key=lambda m: (m.get("navigation") or {}).get("order", 99))
    return {"shards": listed, "count": len(listed), "loaded_count": len(listed)}


class HostEvent(Answer):
    event_type: str
    payload: dict[str, Any]
    source: str
    timestamp: str
    sequence: int


class HostHealth(Answer):
    """`/api/health`: the loaded shards, and those that failed to start, with why."""

    status: str = Field(description="`healthy`, or `unhealthy` when a shard failed to start")
    shards: list[str] = Field(examples=[["packets"]])
    stores: dict[str, dict[str, Any]] | None = Field(
        None,
        description="where each shard that keeps files keeps them, and whether that answers",
        examples=[{"packets": {"backend": "local", "reachable": True}}],
    )
    failed: dict[str, str] | None = Field(
        None,
        description="each shard that failed to start, and why",
        examples=[{"packets": "can't use the database postgresql://packets:***@db/packets"}],
    )


HEALTH_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"model": HostHealth, "description": "Every shard started"},
    503: {
        "model": HostHealth,
        "description": "A shard failed to start (a host built with require_shards=False serves on)",
        "content": {
            "application/json": {
                "example": {
                    "status": "unhealthy",
                    "shards": [],
                    "failed": {"packets": "the database is unavailable: connection refused"},
                }
            }
        },
    },
}


class HostEvents(Answer):
    events: list[HostEvent]
    count: int


MANIFEST_EXAMPLE = {
    "name": "packets",
    "version": "0.4.0",
    "api_prefix": "/api/packets",
    "navigation": {"category": "Export", "order": 62, "label": "Packets", "route": "/packets"},
    "capabilities": ["packet_management", "packet_sharing", "packet_export"],
    "loaded": True,
    "enabled": True,
}


class HostShards(Answer):
    shards: list[dict[str, Any]] = Field(
        description="each loaded shard's manifest (shard.yaml), with `loaded` and `enabled`",
        examples=[[MANIFEST_EXAMPLE]],
    )
    count: int
    loaded_count: int


@functools.cache
def host_router() -> APIRouter:
    """Built once a process, its endpoints shared by every app (as `pages.py` says why); the
    bus is the app's own, from its frame."""
    router = APIRouter(route_class=PacketsRoute, tags=["host"], responses=error_responses(401))

    @router.get("/api/events/", response_model=HostEvents, summary="Recent in-process events")
    async def events(
        request: Request,
        services: ServicesDep,
        scope: ScopeDep,
        source: str | None = Query(None, description="Only events from this source (packets)"),
        limit: int = Query(100, ge=1, le=HISTORY, description="At most this many, newest first"),
    ) -> HostEvents:
        """The in-process bus's last events that name a packet of the caller's tenant, newest
        first, in the Frame's shape; lost at a restart. A caller is admitted as by the packets
        routes (`401` without a user where one is required). The packets shard's durable
        feed is `GET /api/packets/events`."""
        bus: EventBus = request.app.state.frame.services["events"]
        shown = (await services.feed.visible(scope, bus.recent(source, HISTORY)))[:limit]
        return HostEvents.model_validate({"events": shown, "count": len(shown)})

    @router.get(
        "/api/shards/",
        dependencies=[Depends(get_scope)],
        response_model=HostShards,
        summary="List the loaded shards",
    )
    async def shards(request: Request) -> dict[str, Any]:
        """The loaded shards' manifests, in the Frame's shape, sorted by navigation order; to
        a caller the packets routes admit."""
        return manifest_listing(request.app.state.frame.shards)

    return router
