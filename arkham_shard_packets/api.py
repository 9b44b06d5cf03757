"""The shard's router: every route under /api/packets.

Fixed paths are registered before `/{packet_id}` ones, so `/count` or `/stats/...` is never
taken for a packet id, nor `/shared/{token}` for a packet's route. Among the `/{packet_id}/...`
routes, whose second segments differ, the busiest come first: FastAPI tries routes in order.
Last come the answers to methods a path doesn't have: 405 with an `Allow` header that lists
every method the path does have.
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


def add_routes_of(router: APIRouter, part: APIRouter) -> None:
    """`router.include_router(part)` with the part's routes made the router's own, each as the
    part made it (its tags, responses and dependencies merged in). FastAPI 0.16x keeps an
    included router as one route, whose routes it matches with the prefix worked out again for
    each request: with a dozen parts, a third of a millisecond of every request's CPU went on
    finding its route. Older versions copied the routes in as here."""
    for route in part.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"{route!r} of {part!r} is not an APIRoute")
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
        keys.router,  # one segment, as a packet's id is: before packets.item
        packets.item,  # shares no path with a share link's (`/shared/{token}...`) routes
        *sharing.SHARE_LINK_ROUTERS,  # before `/{packet_id}/<word>`, whose id could be "shared"
        contents.router,
        shares.router,  # no path of these shadows another: the busiest first
        files.router,
        versions.router,
        custody.router,
        bundles.item,
    )
    for part in parts:
        add_routes_of(router, part)
    add_without_slash(router, parts)
    add_method_not_allowed(router, parts)
    return router
