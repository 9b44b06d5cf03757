"""The routers a share link opens (JSON and the viewer page), included before the
`/{packet_id}` routes, and whether a request goes to one of them."""

from __future__ import annotations

from fastapi.routing import APIRoute
from starlette.routing import Match

from . import link_routes, viewer_routes

SHARE_LINK_ROUTERS = (link_routes.router, viewer_routes.router)


def opens_share_link(method: str, path: str) -> bool:
    """Whether a request (path below the shard's prefix) goes to a route a share link opens,
    whose credential is the token in its path."""
    scope = {"type": "http", "method": method, "path": path, "root_path": ""}
    return any(
        isinstance(route, APIRoute) and route.matches(scope)[0] is Match.FULL
        for part in SHARE_LINK_ROUTERS
        for route in part.routes
    )
