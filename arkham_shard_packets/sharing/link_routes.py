"""Routes a share link opens, as JSON. The token in the path is the only credential; a
password, when the share has one, comes in the X-Share-Password header (UTF-8, or RFC 8187's
`UTF-8''<percent-encoded>`). A link is looked up before a request's body is read, so nobody
without a working link makes the server read a byte of it."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from ..attachments.downloads import RANGED_FILE_ANSWER, WantedDep, download
from ..bodies import JSON_BODY_MAX, reads_body
from ..core.numbers import clamp
from ..deps import SHARE_TOKEN_MAX, EntryId, ServicesDep, ShareToken, get_services
from ..models import ExportFormat, PacketComment, PacketContent
from ..packets.listing import LIMIT_MAX, OFFSET_MAX
from ..packets.schemas import ContentCreate
from ..records.schemas import ContentOut
from ..routing import PacketsRoute, error_responses
from .access import COMMENTS_SHOWN, CommentDraft, SharedPacket
from .links import ShareLink
from .records import Slice
from .schemas import COMMENT_BODY_MAX, CommentCreate, CommentOut, SharedPacketOut
from .tokens import password_from_header

PASSWORD_HEADER = "X-Share-Password"
PRIVATE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


class SharedRoute(PacketsRoute):
    """Answers to a share link, errors included, are never cached and never leak a referrer."""

    writes_on_read = True  # every use is logged

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            response = await handler(request)
            response.headers.update(PRIVATE_HEADERS)
            return response

        return handle


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


async def share_link(
    token: ShareToken,
    request: Request,
    password: Annotated[
        str | None, Header(alias=PASSWORD_HEADER, description="the share's password, if it has one")
    ] = None,
) -> ShareLink:
    return ShareLink(
        token, None if password is None else password_from_header(password), client_address(request)
    )


async def link_is_open(request: Request) -> None:
    """Refuse a link that doesn't exist, was revoked, expired or is locked before the body is
    read. A token FastAPI will refuse anyway (422) is left to it."""
    token = request.path_params.get("token", "")
    if isinstance(token, str) and len(token) <= SHARE_TOKEN_MAX and "\x00" not in token:
        await (await get_services(request)).share_access.check(token)


LinkDep = Annotated[ShareLink, Depends(share_link)]
CommentsOffset = Annotated[
    int | None,
    Query(description="Skip this many of the link's comments first (default: show the latest)"),
]


def comments_slice(limit: int | None, offset: int | None) -> Slice:
    """Which of a link's comments to show: clamped, never an error."""
    size = clamp(COMMENTS_SHOWN if limit is None else limit, 1, LIMIT_MAX)
    return Slice(size, None if offset is None else clamp(offset, 0, OFFSET_MAX))


BundleFormat = Annotated[
    ExportFormat,
    Query(
        alias="format",
        description="zip (default) or tar.gz, a BagIt bag; or json, one document with the "
        "files inline",
    ),
]
ARCHIVE = {"schema": {"type": "string", "format": "binary"}}
BUNDLE_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The sealed version's bundle, streamed, with Content-Length and a "
        "Content-Disposition: attachment filename `packet-<id>-v<version>.<format>`",
        "content": {
            "application/zip": ARCHIVE,
            "application/gzip": ARCHIVE,
            "application/json": {"schema": {"type": "object"}},
        },
    }
}
BUNDLE_RULES = (
    "The sealed version's bundle, as an export of that version carries it: the same payload "
    "and payload manifest (its items, their files and packet.json), the signed seal, and the "
    "custody log as it stands (tag files). It verifies offline: `arkham-packets verify FILE`, "
    "or bagit and the seal recipe of docs/custody.md. Made on request and kept nowhere. "
    "A packet that is still a draft has no sealed version: 409. Logged as `bundle` in the "
    "link's access log, and in the packet's custody log with the bundle's SHA-256 when it is "
    "the link's first use of the hour (later ones of the hour are counted there)."
)

router = APIRouter(
    prefix="/shared/{token}",
    route_class=SharedRoute,
    tags=["share links"],
    responses=error_responses(401, 403, 404, 410, 429),
)

LINK_RULES = (
    "\n\nThe token is the credential: no user is needed. A password, when the share has "
    "one, goes in the `X-Share-Password` header (401 missing or wrong; 5 wrong within a minute "
    "lock the link for a few minutes, 429 with Retry-After). An unknown or revoked link is 404, "
    "an expired one 410, an action the link doesn't allow 403. A link takes a limited number "
    "of uses a minute (120 by default): more are 429 with Retry-After, not logged. Every use "
    "is logged."
)


@router.get(
    "",
    response_model=SharedPacketOut,
    summary="Open a share link (JSON)",
    description="The packet, its items in order (with their files' name, size and SHA-256), "
    "the comments left through this link, and the grant (who shared it, with whom, what it "
    "allows, until when). `comments` are a slice of the link's comments, oldest first: "
    f"`comments_limit` of them (default {COMMENTS_SHOWN}, clamped to 1..{LIMIT_MAX}) from "
    "`comments_offset`, by default the latest; `comments_total` says how many there are."
    + LINK_RULES,
)
async def open_shared_packet(
    link: LinkDep,
    services: ServicesDep,
    comments_limit: Annotated[
        int | None, Query(description="At most this many of the link's comments")
    ] = None,
    comments_offset: CommentsOffset = None,
) -> SharedPacket:
    return await services.share_access.read(link, comments_slice(comments_limit, comments_offset))


@router.get(
    "/contents/{content_entry_id}/file",
    response_class=StreamingResponse,
    responses={**error_responses(409), **RANGED_FILE_ANSWER},
    summary="Download an item's file through a link",
    description="Any link (view and up) streams an attached file of its packet, or the one "
    "`Range` asked for, as the owner's download does; each answer with bytes (200 or 206) is "
    "logged as `download` and counted, a 416 is not. 404 when the item has none." + LINK_RULES,
)
async def download_through_share(
    content_entry_id: EntryId, link: LinkDep, services: ServicesDep, wanted: WantedDep
) -> StreamingResponse:
    opened = await services.share_access.open_file(link, content_entry_id, wanted)
    file = opened.file
    return download(opened.source, file.name, file.media_type, span=opened.span, etag=opened.etag)


@router.get(
    "/bundle",
    response_class=StreamingResponse,
    responses={**error_responses(409), **BUNDLE_ANSWER},
    summary="Download the sealed bundle through a link",
    description="Any link (view and up). " + BUNDLE_RULES + LINK_RULES,
)
async def bundle_through_share(
    link: LinkDep, services: ServicesDep, bundle_format: BundleFormat = ExportFormat.ZIP
) -> StreamingResponse:
    made = await services.share_access.bundle(link, bundle_format)
    return download(made.source, made.name, made.media_type, ranges=False)


@router.post(
    "/comments",
    response_model=CommentOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409),
    summary="Comment through a link",
    description="A comment or edit link posts `{author, body}`; the link's recipients and the "
    "packet's owner see it. An archived packet takes no comments (409)." + LINK_RULES,
)
@reads_body(COMMENT_BODY_MAX, before=link_is_open)
async def comment_on_shared_packet(
    body: CommentCreate, link: LinkDep, services: ServicesDep
) -> PacketComment:
    return await services.share_access.comment(link, CommentDraft(body.author, body.body))


@router.post(
    "/contents",
    response_model=ContentOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409),
    summary="Add an item through an edit link",
    description="An edit link adds an item to its packet while it is a draft (409 after), "
    "with the body of `POST /api/packets/{packet_id}/contents`; `added_by` is "
    "`share:<share id>`." + LINK_RULES,
)
@reads_body(JSON_BODY_MAX, before=link_is_open)
async def add_content_through_share(
    body: ContentCreate, link: LinkDep, services: ServicesDep
) -> PacketContent:
    return await services.share_access.add_content(link, body.draft())


@router.delete(
    "/contents/{content_entry_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(409),
    summary="Remove an item through an edit link",
    description="An edit link removes an item of its packet while it is a draft (409 after); "
    "204." + LINK_RULES,
)
async def remove_content_through_share(
    content_entry_id: EntryId, link: LinkDep, services: ServicesDep
) -> None:
    await services.share_access.remove_content(link, content_entry_id)
