"""The viewer page a share link opens for a person, and its form (password, comment).

Errors are pages too: an expired link shows a page that says so, with status 410. The form
is read only once the link has been found, and only up to `VIEWER_FORM_MAX` bytes.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import ValidationError

from ..attachments.downloads import FILE_ANSWER, download
from ..bodies import reads_body
from ..deps import EntryId, ServicesDep, ShareToken
from ..errors import InvalidInput, PacketsError
from ..models import ExportFormat
from ..routing import STATUS_TEXT, PacketsRoute
from .access import CommentDraft, ShareLink
from .link_routes import (
    BUNDLE_ANSWER,
    BUNDLE_RULES,
    BundleFormat,
    CommentsOffset,
    client_address,
    comments_slice,
    link_is_open,
    share_link,
)
from .owner_routes import VIEWER_ROUTE
from .page import SECURITY_HEADERS, error_page, shared_packet_page
from .schemas import AUTHOR_MAX, COMMENT_BODY_MAX, COMMENT_MAX, PASSWORD_MAX, CommentCreate

VIEWER_FORM_MAX = COMMENT_BODY_MAX
FORM_FIELDS = ("password", "author", "body")
FORM_TYPE = "application/x-www-form-urlencoded"
HTML_PAGE = {"text/html": {"schema": {"type": "string"}}}


class ViewerRoute(PacketsRoute):
    """Like PacketsRoute, but every answer, errors included, is a page for a person."""

    writes_on_read = True  # every view is logged

    def failure_entry(self, code: int, schema: dict[str, Any]) -> dict[str, Any]:
        return {"description": STATUS_TEXT.get(code, "Error"), "content": HTML_PAGE}

    def error_response(self, error: PacketsError) -> Response:
        return HTMLResponse(
            error_page(error.status_code, error.for_page or error.detail),
            status_code=error.status_code,
            headers=error.headers,
        )

    def validation_response(self, problems: list[dict[str, Any]]) -> Response:
        said = "; ".join(
            f"{'.'.join(str(part) for part in p['loc'][1:]) or p['loc'][0]}: {p['msg']}"
            for p in problems
        )
        return HTMLResponse(error_page(422, f"the request was not understood ({said})"), 422)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            response = await handler(request)
            response.headers.update(SECURITY_HEADERS)
            return response

        return handle


def page_answers(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {
        code: {"description": STATUS_TEXT.get(code, "Error"), "content": HTML_PAGE}
        for code in codes
    }


router = APIRouter(
    route_class=ViewerRoute,
    tags=["share links"],
    responses={
        **page_answers(401, 403, 404, 409, 410, 429),
        200: {"content": {"text/html": {}}, "description": "The viewer page"},
    },
)

LinkDep = Annotated[ShareLink, Depends(share_link)]


@dataclass
class ViewerForm:
    password: str | None = None
    author: str | None = None
    body: str | None = None


FORM_SCHEMA = {
    "type": "object",
    "properties": {
        "password": {"type": "string", "maxLength": PASSWORD_MAX},
        "author": {"type": "string", "maxLength": AUTHOR_MAX},
        "body": {"type": "string", "maxLength": COMMENT_MAX},
    },
    "additionalProperties": False,
}
FORM_BODY = {"requestBody": {"content": {FORM_TYPE: {"schema": FORM_SCHEMA}}}}
PASSWORD_FORM_SCHEMA = {
    "type": "object",
    "properties": {"password": FORM_SCHEMA["properties"]["password"]},  # type: ignore[index]
    "additionalProperties": False,
}
PASSWORD_FORM_BODY = {"requestBody": {"content": {FORM_TYPE: {"schema": PASSWORD_FORM_SCHEMA}}}}


async def viewer_form(request: Request) -> ViewerForm:
    """The page's form, `application/x-www-form-urlencoded` as a browser sends it."""
    raw = await request.body()
    if not raw:
        return ViewerForm()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != FORM_TYPE:
        raise InvalidInput(f"the form must be sent as {FORM_TYPE}")
    try:
        pairs = urllib.parse.parse_qsl(
            raw.decode("utf-8"), keep_blank_values=True, max_num_fields=len(FORM_FIELDS) * 2
        )
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput("the form is not UTF-8 text with at most three fields") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name not in FORM_FIELDS:
            raise InvalidInput(f"the form has an unknown field '{name[:40]}'")
        if name in fields:
            raise InvalidInput(f"the form has the field '{name}' twice")
        fields[name] = value
    return ViewerForm(**fields)


FormDep = Annotated[ViewerForm, Depends(viewer_form)]


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


@router.get(
    "/shared/{token}/view",
    response_class=HTMLResponse,
    name=VIEWER_ROUTE,
    summary="Open a share link's viewer page",
)
async def view_shared_packet(
    link: LinkDep, services: ServicesDep, comments_offset: CommentsOffset = None
) -> HTMLResponse:
    """The page a link's recipient opens in a browser: the packet, its items with their files
    (size, SHA-256, a download link), the grant, and this link's comments (the latest 50, or
    50 from `comments_offset`, with links to the others) with a form when the link allows
    commenting. No scripts, no external assets. A link with a password shows a password form
    (401); errors (expired 410, revoked 404, too many attempts 429) are pages."""
    shown = await services.share_access.view(link, comments=comments_slice(None, comments_offset))
    return HTMLResponse(shared_packet_page(shown))


@router.post(
    "/shared/{token}/contents/{content_entry_id}/file",
    response_class=StreamingResponse,
    responses=FILE_ANSWER,
    openapi_extra=PASSWORD_FORM_BODY,
    summary="Download a file from the viewer page",
)
@reads_body(VIEWER_FORM_MAX, before=link_is_open)
async def download_from_viewer(
    token: ShareToken,
    content_entry_id: EntryId,
    form: FormDep,
    request: Request,
    services: ServicesDep,
) -> StreamingResponse:
    """The viewer page's download button on a link with a password, which a plain link can't
    send: the password comes in the form (`password`, form-encoded). Errors are pages, with
    the status codes of the JSON routes. The whole file (a POST takes no `Range`). Logged as
    `download`."""
    if form.author or form.body:
        raise InvalidInput("a download takes only the password")
    link = ShareLink(token, form.password or None, client_address(request))
    opened = await services.share_access.open_file(link, content_entry_id)
    file = opened.file
    return download(opened.source, file.name, file.media_type, etag=opened.etag, ranges=False)


@router.post(
    "/shared/{token}/bundle",
    response_class=StreamingResponse,
    responses=BUNDLE_ANSWER,
    openapi_extra=PASSWORD_FORM_BODY,
    summary="Download the sealed bundle from the viewer page",
    description="The viewer page's bundle button on a link with a password, which a plain "
    "link can't send: the password comes in the form (`password`, form-encoded). Errors are "
    "pages, with the status codes of `GET /shared/{token}/bundle`. " + BUNDLE_RULES,
)
@reads_body(VIEWER_FORM_MAX, before=link_is_open)
async def bundle_from_viewer(
    token: ShareToken,
    form: FormDep,
    request: Request,
    services: ServicesDep,
    bundle_format: BundleFormat = ExportFormat.ZIP,
) -> StreamingResponse:
    if form.author or form.body:
        raise InvalidInput("a download takes only the password")
    link = ShareLink(token, form.password or None, client_address(request))
    made = await services.share_access.bundle(link, bundle_format)
    return download(made.source, made.name, made.media_type, ranges=False)


@router.post(
    "/shared/{token}/view",
    response_class=HTMLResponse,
    openapi_extra=FORM_BODY,
    summary="Send the viewer page's form",
)
@reads_body(VIEWER_FORM_MAX, before=link_is_open)
async def submit_viewer_form(
    token: ShareToken,
    form: FormDep,
    request: Request,
    services: ServicesDep,
    comments_offset: CommentsOffset = None,
) -> HTMLResponse:
    """The page's forms, form-encoded: `password` typed in, and (with it or not) `author` and
    `body` of a comment to post (comment and edit links; 403 otherwise). Answers the page,
    with the comments from `comments_offset` (the buttons to earlier comments of a link with
    a password) or the latest."""
    link = ShareLink(token, form.password or None, client_address(request))
    comment = (
        partial(comment_from_form, form.author, form.body) if form.author or form.body else None
    )
    page = await services.share_access.view(link, comment, comments_slice(None, comments_offset))
    return HTMLResponse(shared_packet_page(page, link.password))
