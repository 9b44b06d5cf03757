"""A shard's router in the host's app, as the Frame includes it, FastAPI's work on its routes
done once a process."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from starlette.routing import BaseRoute

ROUTERS_KEPT = 8
# by the router's id, the router kept alive beside its routes
_built: dict[int, tuple[APIRouter, tuple[BaseRoute, ...]]] = {}


def routes_built_once(router: APIRouter) -> tuple[BaseRoute, ...]:
    """`router` included in a router shaped as the host's app (no prefix, tags, dependencies or
    responses of its own), the same object for the same router until eight others came."""
    kept = _built.get(id(router))
    if kept is None:
        holder = APIRouter()
        holder.include_router(router)
        if len(_built) >= ROUTERS_KEPT:
            _built.clear()
        kept = _built[id(router)] = (router, tuple(holder.routes))
    return kept[1]


def include_shard_router(app: FastAPI, router: APIRouter) -> None:
    """`app.include_router(router)`, as the Frame does, with the routes FastAPI works out for it
    built once a process. FastAPI 0.165 works out every included route's parameters again for
    each app it is included in (about 110 ms of CPU for this shard's), which a process making
    many apps (the tests) paid each time. The same router object (`get_routes` builds it once)
    gets the same routes, answering alike in every app; the app's `dependency_overrides` don't
    reach them, which nothing here uses."""
    before = len(app.router.routes)
    app.include_router(router)  # its checks and its router's lifespan, as in the Frame
    app.router.routes[before:] = routes_built_once(router)
