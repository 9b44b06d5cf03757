"""All the sharing routes as one router: what a share link opens (JSON and the viewer page),
and the owner's share management. Included before the `/{packet_id}` routes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.routing import Match

from . import link_routes, owner_routes, viewer_routes

SHARE_LINK_ROUTERS = (link_routes.router, viewer_routes.router)
PARTS = (*SHARE_LINK_ROUTERS, owner_routes.router)

router = APIRouter()
for part in PARTS:
    router.include_router(part)


def opens_share_link(method: str, path: str) -> bool:
    """Whether a request (path below the shard's prefix) goes to a route a share link opens,
    whose credential is the token in its path."""
    scope = {"type": "http", "method": method, "path": path, "root_path": ""}
    return any(
        isinstance(route, APIRoute) and route.matches(scope)[0] is Match.FULL
        for part in SHARE_LINK_ROUTERS
        for route in part.routes
    )
