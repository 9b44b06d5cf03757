"""The host's open routes: its home, its health and the interactive docs. Every endpoint is a
function of this module, shared by all apps, which reaches its app through the request:
FastAPI keeps the callables it has looked at (up to 4,096), so an endpoint made for one app
(a closure) would keep that app, and all it holds, alive after it stopped."""

from __future__ import annotations

import functools
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from .routes import HEALTH_ANSWERS

# Where FastAPIOffline serves Swagger UI's and ReDoc's files, from the installed package: the
# docs never load them from a CDN (evidence work often runs on machines without internet).
DOCS_FILES = "/static-offline-docs"
HOME_LINKS = {
    "docs": "/docs",
    "redoc": "/redoc",
    "openapi": "/openapi.json",
    "packets": "/api/packets/",
    "health": "/api/health",
}


async def home(request: Request) -> Response:
    """Browsers go to the interactive docs; other clients get the addresses as JSON."""
    if "text/html" in request.headers.get("accept", ""):
        return RedirectResponse("/docs")
    return JSONResponse(HOME_LINKS)


async def health(request: Request) -> Response:
    """`healthy` only when every shard started; otherwise 503 with the reasons. `stores`:
    where each shard that keeps files keeps them, and whether that answers now."""
    frame = request.app.state.frame
    body: dict[str, Any] = {"status": "healthy", "shards": sorted(frame.shards)}
    stores = {
        name: await report()
        for name, shard in sorted(frame.shards.items())
        if callable(report := getattr(shard, "store_health", None))
    }
    if stores:
        body["stores"] = stores
    if frame.failed:
        body.update(status="unhealthy", failed=dict(frame.failed))
    return JSONResponse(body, status_code=503 if frame.failed else 200)


async def swagger_ui(request: Request) -> HTMLResponse:
    root, app = request.scope.get("root_path", ""), request.app
    return get_swagger_ui_html(
        openapi_url=f"{root}{app.openapi_url}",
        title=f"{app.title} - Swagger UI",
        oauth2_redirect_url=app.swagger_ui_oauth2_redirect_url,
        swagger_js_url=f"{root}{DOCS_FILES}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{DOCS_FILES}/swagger-ui.css",
        swagger_favicon_url=f"{root}{DOCS_FILES}/favicon.png",
        swagger_ui_parameters=app.swagger_ui_parameters,
    )


async def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


async def redoc(request: Request) -> HTMLResponse:
    root, app = request.scope.get("root_path", ""), request.app
    return get_redoc_html(
        openapi_url=f"{root}{app.openapi_url}",
        title=f"{app.title} - ReDoc",
        redoc_js_url=f"{root}{DOCS_FILES}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{DOCS_FILES}/favicon.png",
        with_google_fonts=False,
    )


@functools.cache
def open_router() -> APIRouter:
    router = APIRouter()
    router.add_api_route("/docs", swagger_ui, include_in_schema=False)
    router.add_api_route("/docs/oauth2-redirect", swagger_ui_redirect, include_in_schema=False)
    router.add_api_route("/redoc", redoc, include_in_schema=False)
    router.add_api_route("/", home, include_in_schema=False, response_model=None)
    router.add_api_route(
        "/api/health",
        health,
        tags=["host"],
        summary="Check the host and its shards",
        response_model=None,
        responses=HEALTH_ANSWERS,
    )
    return router
