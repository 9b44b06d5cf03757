"""The shard's router: every route under /api/packets.

The routes are tried the busiest first, a word before a parameter where two routes meet, so
`/count` is never taken for a packet id, nor `/shared/{token}` for a packet's route
(route_order.py). Last come the answers to methods a path doesn't have: 405 with an `Allow`
header that lists every method the path does have.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from .attachments import routes as files
from .bundles import routes as bundles
from .custody import routes as custody
from .events import routes as events
from .keys import routes as keys
from .packets import batch_routes as batch
from .packets import contents_routes as contents
from .packets import routes as packets
from .route_order import busiest_first
from .routing import PacketsRoute
from .sharing import owner_routes as shares
from .sharing import routes as sharing
from .versions import routes as versions

PREFIX = "/api/packets"
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")


def method_not_allowed(allowed: str) -> Callable[[Request], Awaitable[Response]]:
    async def refuse(request: Request) -> Response:
        return JSONResponse(
            {"detail": f"{request.method} is not allowed here; use {allowed}"},
            status_code=405,
            headers={"Allow": allowed},
        )

    return refuse


def add_without_slash(router: APIRouter, parts: Iterable[APIRouter]) -> None:
    """`/api/packets` answers as `/api/packets/` does, rather than with a redirect (a 307 that
    common clients don't follow for a POST). Added to the router itself, which carries the
    prefix, so it holds wherever the router is included (our host, or the Frame as is)."""
    for part in parts:
        for route in part.routes:
            if isinstance(route, APIRoute) and route.path == "/":
                router.add_api_route(
                    "",
                    route.endpoint,
                    methods=sorted(route.methods or ()),
                    response_model=route.response_model,
                    status_code=route.status_code,
                    response_class=route.response_class,
                    name=f"{route.name}_without_slash",
                    include_in_schema=False,
                    route_class_override=type(route),
                )


def add_route(router: APIRouter, route: APIRoute) -> None:
    """`route`, of a part of the shard's routes, made the router's own as the part made it (its
    tags, responses and dependencies merged in), as `include_router` did before FastAPI 0.16x,
    which keeps an included router as one route and matches its routes with the prefix worked
    out again for each request: with a dozen parts, a third of a millisecond of every
    request's CPU went on finding its route."""
    router.add_api_route(
        route.path,
        route.endpoint,
        response_model=route.response_model,
        status_code=route.status_code,
        tags=route.tags,
        dependencies=route.dependencies,
        summary=route.summary,
        description=route.description,
        response_description=route.response_description,
        responses=route.responses,
        deprecated=route.deprecated,
        methods=route.methods,
        operation_id=route.operation_id,
        response_model_include=route.response_model_include,
        response_model_exclude=route.response_model_exclude,
        response_model_by_alias=route.response_model_by_alias,
        response_model_exclude_unset=route.response_model_exclude_unset,
        response_model_exclude_defaults=route.response_model_exclude_defaults,
        response_model_exclude_none=route.response_model_exclude_none,
        include_in_schema=route.include_in_schema,
        response_class=route.response_class,
        name=route.name,
        route_class_override=type(route),
        callbacks=route.callbacks,
        openapi_extra=route.openapi_extra,
        generate_unique_id_function=route.generate_unique_id_function,
    )


def add_method_not_allowed(router: APIRouter, parts: Iterable[APIRouter]) -> None:
    methods: dict[str, set[str]] = {}
    for part in parts:
        for route in part.routes:
            if isinstance(route, APIRoute):
                methods.setdefault(route.path, set()).update(route.methods or ())
                if route.path == "/":
                    methods.setdefault("", set()).update(route.methods or ())
    for path, allowed in methods.items():
        refuse = method_not_allowed(", ".join(sorted(allowed)))
        router.add_route(PREFIX + path, refuse, methods=HTTP_METHODS, include_in_schema=False)


@functools.cache
def build_router() -> APIRouter:
    """The shard's routes, built once per process: FastAPI works out a router's routes when it
    is first included, so every later app including the same router (a test's, a worker's)
    starts without that cost."""
    # 401 and 403 (the caller's Frame user, or a share link's password) are every route's but
    # the liveness probe's: PacketsRoute documents them.
    router = APIRouter(prefix=PREFIX, route_class=PacketsRoute)
    parts = (
        packets.collection,
        bundles.collection,
        batch.router,
        events.router,
        keys.router,
        packets.item,
        *sharing.SHARE_LINK_ROUTERS,
        contents.router,
        shares.router,
        files.router,
        versions.router,
        custody.router,
        bundles.item,
    )
    routes = [route for part in parts for route in part.routes if isinstance(route, APIRoute)]
    if len(routes) != sum(len(part.routes) for part in parts):
        raise TypeError("a part of the shard's routes holds a route that isn't an APIRoute")
    for route in busiest_first(routes):
        add_route(router, route)
    add_without_slash(router, parts)
    add_method_not_allowed(router, parts)
    return router
