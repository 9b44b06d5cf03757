"""The one place that renders domain errors: `PacketsRoute` turns a `PacketsError` into a
`{"detail": ...}` response wherever our router is mounted (our host or the real Frame),
because an exception handler on someone else's app is not ours to install. Also the OpenAPI
entries for the error codes a route can answer with.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from .errors import PacketsError


def error_response(error: PacketsError) -> JSONResponse:
    return JSONResponse(
        {"detail": error.detail}, status_code=error.status_code, headers=error.headers
    )


class PacketsRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except PacketsError as error:
                return error_response(error)

        return handle


class ErrorBody(BaseModel):
    detail: str


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error codes a route can answer with."""
    return {
        code: {"model": ErrorBody, "description": STATUS_TEXT.get(code, "Error")} for code in codes
    }


STATUS_TEXT = {
    401: "No valid Frame user where one is needed, or a share password missing or wrong",
    403: "Not permitted",
    404: "Not found",
    409: "Refused by the packet's state",
    410: "Expired",
    412: "Stale version",
    413: "Too large",
    422: "Invalid input",
    429: "Too many attempts",
    503: "Service unavailable",
    507: "Not enough free disk space",
}
