"""The shard's routes as the app serves them, read from its OpenAPI schema: FastAPI's public
record of every route (newer FastAPI versions no longer list an included router's routes in
`app.routes`)."""

from __future__ import annotations

import re

from fastapi import FastAPI

from arkham_shard_packets.api import PREFIX


def served_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path template) of every route under the shard's prefix."""
    paths = app.openapi()["paths"]
    return sorted(
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith(PREFIX)
        for method in operations
    )


def _specificity(path: str) -> tuple[bool, ...]:
    """Literal segments before parameters, as the router registers fixed paths first."""
    return tuple(segment.startswith("{") for segment in path.split("/"))


def route_of(method: str, url_path: str, routes: list[tuple[str, str]]) -> tuple[str, str] | None:
    """The route a request goes to: the most specific template that matches it."""
    for route in sorted(routes, key=lambda r: _specificity(r[1])):
        pattern = "^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(route[1])) + "$"
        if route[0] == method and re.match(pattern, url_path):
            return route
    return None
