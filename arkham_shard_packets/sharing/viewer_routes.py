"""The viewer page a share link opens for a person, and its form (password, comment).

Errors are pages too: an expired link shows a page that says so, with status 410. The form
is read only once the link has been found, and only up to `VIEWER_FORM_MAX` bytes. A form that
was accepted is answered with a redirect to the page (post/redirect/get), so reloading the page
sends nothing again. A password typed into the page is remembered for the link, for a while,
in a session cookie (sharing/sessions.py) that only this link's routes receive; the page's
routes take it instead of the password, and forget it when the link is gone or refuses it.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from pydantic import ValidationError

from ..attachments.downloads import FILE_ANSWER, download
from ..bodies import reads_body
from ..core.numbers import clamp
from ..deps import EntryId, ServicesDep, ShareToken, get_services
from ..errors import (
    InvalidInput,
    PacketsError,
    PasswordRequired,
    ShareExpired,
    ShareNotFound,
)
from ..models import ExportFormat
from ..packets.listing import OFFSET_MAX
from ..routing import STATUS_TEXT, PacketsRoute
from .access import CommentDraft
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
from .links import ShareLink
from .owner_routes import VIEWER_ROUTE
from .page import SECURITY_HEADERS, error_page, shared_packet_page
from .schemas import AUTHOR_MAX, COMMENT_BODY_MAX, COMMENT_MAX, PASSWORD_MAX, CommentCreate

if TYPE_CHECKING:
    from ..wiring import Services

VIEWER_FORM_MAX = COMMENT_BODY_MAX
FORM_FIELDS = ("password", "author", "body")
FORM_TYPE = "application/x-www-form-urlencoded"
HTML_PAGE = {"text/html": {"schema": {"type": "string"}}}
SESSION_COOKIE = "packets_link_session"
# The tokens links are made with (sharing/tokens.py): only such a path is ever a cookie's scope.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,128}")


def link_path(request: Request, token: str) -> str:
    """Where every route of the link starts, as the browser addresses it: the cookie's scope."""
    return request.url_for(VIEWER_ROUTE, token=token).path.removesuffix("/view")


def over_https(request: Request, services: Services) -> bool:
    """Whether the browser reached the page over https: the request's scheme (behind a proxy,
    as the host's trusted X-Forwarded-Proto sets it), or a public base URL of https."""
    base = services.settings.public_base_url or ""
    return request.url.scheme == "https" or base.startswith("https:")


def remember(response: Response, request: Request, services: Services, session: str) -> None:
    """Gives the browser the link's session: sent back to this link's routes only, never to
    scripts or from another site's pages, for the configured lifetime."""
    token = str(request.path_params["token"])
    response.set_cookie(
        SESSION_COOKIE,
        session,
        max_age=services.settings.share_session_seconds,
        path=link_path(request, token),
        secure=over_https(request, services),
        httponly=True,
        samesite="strict",
    )


async def forget(response: Response, request: Request) -> None:
    token = request.path_params.get("token")
    if not isinstance(token, str) or not TOKEN_SHAPE.fullmatch(token):
        return
    services = await get_services(request)
    response.delete_cookie(
        SESSION_COOKIE,
        path=link_path(request, token),
        secure=over_https(request, services),
        httponly=True,
        samesite="strict",
    )


def session_cookie(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE)


class PageError(HTMLResponse):
    """A failure as a page. `ends_session`: the link's session can't be used any more (the
    link is gone or expired, or refused it)."""

    def __init__(self, error: PacketsError) -> None:
        super().__init__(
            error_page(error.status_code, error.for_page or error.detail),
            status_code=error.status_code,
            headers=error.headers,
        )
        self.ends_session = isinstance(error, (ShareNotFound, ShareExpired, PasswordRequired))


class ViewerRoute(PacketsRoute):
    """Like PacketsRoute, but every answer, errors included, is a page for a person."""

    writes_on_read = True  # every view is logged

    def failure_entry(self, code: int, schema: dict[str, Any]) -> dict[str, Any]:
        return {"description": STATUS_TEXT.get(code, "Error"), "content": HTML_PAGE}

    def error_response(self, error: PacketsError) -> Response:
        return PageError(error)

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
            ended = isinstance(response, PageError) and response.ends_session
            if ended and session_cookie(request) is not None:
                await forget(response, request)
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
    responses=page_answers(401, 403, 404, 409, 410, 429),
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


async def signed_in(
    services: Services, token: str, form: ViewerForm, request: Request
) -> tuple[ShareLink, str | None]:
    """The link as the page's form and cookie present it. A password typed into the form is
    checked here, once (a wrong one counted by the lockout), and opens a new session, which
    the rest of the request presents instead (and the browser from then on): answers it too.
    None when nothing was typed, or the link has no password."""
    link = ShareLink(token, None, client_address(request), session_cookie(request))
    if not form.password:
        return link, None
    session = await services.share_access.sign_in(replace(link, password=form.password))
    return (link, None) if session is None else (replace(link, session=session), session)


@router.get(
    "/shared/{token}/view",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}, "description": "The viewer page"}},
    name=VIEWER_ROUTE,
    summary="Open a share link's viewer page",
)
async def view_shared_packet(
    link: LinkDep, request: Request, services: ServicesDep, comments_offset: CommentsOffset = None
) -> HTMLResponse:
    """The page a link's recipient opens in a browser: the packet, its items in order with
    their data and files (size, SHA-256, a download button), the grant, and this link's
    comments (the latest 50, or 50 from `comments_offset`, with links to the others) with a
    form when the link allows commenting. No scripts, no external assets. A link with a
    password shows a password form (401) until the page's session cookie, set once the
    password was typed in, stands in for it; errors (expired 410, revoked 404, too many
    attempts 429) are pages, and forget the session."""
    link = replace(link, session=session_cookie(request))
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
    """The viewer page's download button, which a link with a password needs (a plain link
    can't send a header): the page's session cookie stands in for the password, or the
    password comes in the form (`password`, form-encoded) and opens a session. Errors are
    pages, with the status codes of the JSON routes. The whole file (a POST takes no
    `Range`). Logged as `download`, with the file."""
    if form.author or form.body:
        raise InvalidInput("a download takes only the password")
    link, session = await signed_in(services, token, form, request)
    opened = await services.share_access.open_file(link, content_entry_id)
    file = opened.file
    answer = download(opened.source, file.name, file.media_type, etag=opened.etag, ranges=False)
    if session is not None:
        remember(answer, request, services, session)
    return answer


@router.post(
    "/shared/{token}/bundle",
    response_class=StreamingResponse,
    responses=BUNDLE_ANSWER,
    openapi_extra=PASSWORD_FORM_BODY,
    summary="Download the sealed bundle from the viewer page",
    description="The viewer page's bundle button, which a link with a password needs (a "
    "plain link can't send a header): the page's session cookie stands in for the password, "
    "or the password comes in the form (`password`, form-encoded) and opens a session. Errors "
    "are pages, with the status codes of `GET /shared/{token}/bundle`. " + BUNDLE_RULES,
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
    link, session = await signed_in(services, token, form, request)
    made = await services.share_access.bundle(link, bundle_format)
    answer = download(made.source, made.name, made.media_type, ranges=False)
    if session is not None:
        remember(answer, request, services, session)
    return answer


TO_THE_PAGE = {
    "description": "Accepted: to the page (post/redirect/get), with the link's session "
    "cookie when a password was typed in",
    "headers": {
        "Location": {"description": "The page, relative to this one", "schema": {"type": "string"}},
        "Set-Cookie": {"description": "The link's session", "schema": {"type": "string"}},
    },
}


@router.post(
    "/shared/{token}/view",
    status_code=status.HTTP_303_SEE_OTHER,
    response_class=RedirectResponse,
    responses={303: TO_THE_PAGE},
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
) -> RedirectResponse:
    """The page's forms, form-encoded: `password` typed in (which opens the page's session,
    a cookie), and (with it or not) `author` and `body` of a comment to post (comment and
    edit links; 403 otherwise). Answers 303 See Other to the page, so that reloading it
    posts nothing again: after a comment, to the latest comments; else to the comments from
    `comments_offset`, if given."""
    link, session = await signed_in(services, token, form, request)
    target = "view"
    if form.author or form.body:
        await services.share_access.comment(
            link, partial(comment_from_form, form.author, form.body)
        )
        target = "view#comments"
    elif comments_offset is not None:
        target = f"view?comments_offset={clamp(comments_offset, 0, OFFSET_MAX)}"
    answer = RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
    if session is not None:
        remember(answer, request, services, session)
    return answer
