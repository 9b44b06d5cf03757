"""Routes where a packet's owner shares it, lists and revokes its shares, and reads what
recipients left: comments and the access log."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from ..core.numbers import clamp
from ..deps import PacketId, ScopeDep, ServicesDep, ShareId
from ..models import PacketShare
from ..packets.listing import LIMIT_DEFAULT, LIMIT_MAX, OFFSET_MAX
from ..routing import PacketsRoute, error_responses
from .records import Slice
from .schemas import (
    AccessEntryOut,
    AccessLog,
    CommentList,
    CommentOut,
    ShareCreate,
    ShareCreated,
    ShareOut,
)
from .service import ShareDraft

router = APIRouter(route_class=PacketsRoute, tags=["sharing"], responses=error_responses(404))

VIEWER_ROUTE = "packets_shared_view"


@router.post(
    "/{packet_id}/share",
    response_model=ShareCreated,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409, 422),
    summary="Share a packet by link",
)
async def create_share(
    packet_id: PacketId, body: ShareCreate, request: Request, services: ServicesDep, scope: ScopeDep
) -> ShareCreated:
    """Makes a link for `shared_with` (`public`, an email address or a user id such as
    `user-123`, which names the audience and grants nothing) that allows `view` (default),
    `comment` or `edit`, optionally until `expires_at` (in the future, else 422) and behind a
    `password`. The answer is the only place the token ever appears; `share_url` is the
    viewer page (absolute with a public base URL). An archived packet is 409, whoever the
    link is for; the first share of a finalized packet makes it `shared`. Emits
    `packets.packet.shared`. `item_ids` limits a view or comment link to some items of the
    latest sealed version (409 without a seal that proves items one by one, 422 for an id not
    among its items or with `edit`): the link shows only them, and its bundle is their
    disclosure."""
    draft = ShareDraft(
        body.shared_with, body.permissions, body.expires_at, body.password, body.item_ids
    )
    share = await services.shares.create(scope, packet_id, draft)
    viewer = viewer_path(request.app, share.access_token)
    base = services.settings.public_base_url
    share_url = viewer if base is None else base + viewer
    return ShareCreated.model_validate({**vars(share), "share_url": share_url})


SENTINEL = "0token0"  # no character a path would quote


@lru_cache(maxsize=8)
def _viewer_template(app: Any) -> tuple[str, str]:
    before, after = str(app.url_path_for(VIEWER_ROUTE, token=SENTINEL)).split(SENTINEL)
    return before, after


def viewer_path(app: Any, token: str) -> str:
    """`app.url_path_for` the viewer page of `token`, found once for each app: FastAPI 0.16x
    walks every route of the app for it, a tenth of a share's CPU. Tokens are URL-safe."""
    before, after = _viewer_template(app)
    return before + token + after


@router.get("/{packet_id}/shares", response_model=list[ShareOut], summary="List a packet's shares")
async def list_shares(
    packet_id: PacketId, services: ServicesDep, scope: ScopeDep
) -> list[PacketShare]:
    """A JSON array (no wrapper) of the packet's shares not revoked, oldest first, each with
    its `state` (active or expired), `access_count` and `last_accessed_at`; tokens are never
    listed."""
    return await services.shares.of_packet(scope, packet_id)


@router.delete(
    "/{packet_id}/shares/{share_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Revoke a share link",
)
async def revoke_share(
    packet_id: PacketId, share_id: ShareId, services: ServicesDep, scope: ScopeDep
) -> None:
    """The link stops working at once (404 from then on); its access log and comments are
    kept. Revoking a shared packet's last active share makes it `finalized` again. 204."""
    await services.shares.revoke(scope, packet_id, share_id)


Limit = Annotated[
    int | None,
    Query(description=f"At most this many (default {LIMIT_DEFAULT}, clamped to 1..{LIMIT_MAX})"),
]
Offset = Annotated[int | None, Query(description="Skip this many first (default 0)")]


def window(limit: int | None, offset: int | None) -> tuple[int, int]:
    """`limit` and `offset` as the list routes take them: clamped, never an error."""
    return clamp(LIMIT_DEFAULT if limit is None else limit, 1, LIMIT_MAX), clamp(
        offset or 0, 0, OFFSET_MAX
    )


@router.get(
    "/{packet_id}/shares/{share_id}/access",
    response_model=AccessLog,
    summary="Read a share's access log",
)
async def share_access_log(
    packet_id: PacketId,
    share_id: ShareId,
    services: ServicesDep,
    scope: ScopeDep,
    limit: Limit = None,
    offset: Offset = None,
) -> AccessLog:
    """Every use of the link (read, view, download, bundle, comment, edit) and every wrong
    password, with the time and client address, oldest first, `limit` rows from `offset`
    (`total`: how many the log holds); kept after revocation. The access log is the exact
    record of a link's uses; the custody log counts them an hour at a time."""
    size, skip = window(limit, offset)
    entries, total = await services.shares.access_log(scope, packet_id, share_id, size, skip)
    return AccessLog(
        share_id=share_id,
        items=[AccessEntryOut.model_validate(entry) for entry in entries],
        total=total,
        limit=size,
        offset=skip,
    )


@router.get(
    "/{packet_id}/comments", response_model=CommentList, summary="Read every link's comments"
)
async def list_comments(
    packet_id: PacketId,
    services: ServicesDep,
    scope: ScopeDep,
    limit: Limit = None,
    offset: Offset = None,
) -> CommentList:
    """The owner's view: the comments left through all of the packet's links (revoked ones
    included), oldest first, `limit` from `offset` (`total`: how many there are), each with
    its `share_id`. A link's recipients see only the comments of their own link."""
    size, skip = window(limit, offset)
    comments, total = await services.shares.comments(scope, packet_id, Slice(size, skip))
    return CommentList(
        packet_id=packet_id,
        items=[CommentOut.model_validate(comment) for comment in comments],
        total=total,
        limit=size,
        offset=skip,
    )
