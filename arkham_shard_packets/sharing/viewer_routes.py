"""The viewer page a share link opens for a person, and its form (password, comment).

Errors are pages too: an expired link shows a page that says so, with status 410.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from pydantic import ValidationError

from ..deps import ServicesDep, ShareToken
from ..errors import InvalidInput, PacketsError
from ..routing import error_responses
from .access import CommentDraft, ShareLink
from .links import client_address, share_link
from .page import SECURITY_HEADERS, error_page, shared_packet_page
from .routes import VIEWER_ROUTE
from .schemas import CommentCreate


class ViewerRoute(APIRoute):
    """Like PacketsRoute, but a domain error becomes a page for a person, not JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                response = await handler(request)
            except PacketsError as error:
                response = HTMLResponse(
                    error_page(error.status_code, error.detail),
                    status_code=error.status_code,
                    headers=error.headers,
                )
            response.headers.update(SECURITY_HEADERS)
            return response

        return handle


router = APIRouter(
    route_class=ViewerRoute,
    responses={
        **error_responses(401, 403, 404, 409, 410, 422, 429),
        200: {"content": {"text/html": {}}, "description": "The viewer page"},
    },
)

LinkDep = Annotated[ShareLink, Depends(share_link)]


def comment_from_form(author: str | None, body: str | None) -> CommentDraft:
    try:
        checked = CommentCreate(author=author or "", body=body or "")
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
            for e in error.errors()
        )
        raise InvalidInput(f"the comment was not posted ({problems})") from None
    return CommentDraft(checked.author, checked.body)


@router.get("/shared/{token}/view", response_class=HTMLResponse, name=VIEWER_ROUTE)
async def view_shared_packet(link: LinkDep, services: ServicesDep) -> HTMLResponse:
    return HTMLResponse(shared_packet_page(await services.share_access.view(link)))


@router.post("/shared/{token}/view", response_class=HTMLResponse)
async def submit_viewer_form(
    token: ShareToken,
    request: Request,
    services: ServicesDep,
    password: Annotated[str | None, Form()] = None,
    author: Annotated[str | None, Form()] = None,
    body: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    """The page's forms: a password typed in, and (with it or not) a comment to post."""
    link = ShareLink(token, password or None, client_address(request))
    comment = partial(comment_from_form, author, body) if author or body else None
    page = await services.share_access.view(link, comment)
    return HTMLResponse(shared_packet_page(page, link.password))
