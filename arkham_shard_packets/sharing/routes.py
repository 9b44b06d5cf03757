"""Routes where a packet's owner shares it, lists and revokes its shares, and reads what
recipients left: comments and the access log."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request, Response, status

from ..deps import EntryId, PacketId, ScopeDep, ServicesDep
from ..models import PacketShare, ShareAccessEntry
from ..routing import PacketsRoute, error_responses
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

router = APIRouter(route_class=PacketsRoute, responses=error_responses(404))

VIEWER_ROUTE = "packets_shared_view"


@router.post(
    "/{packet_id}/share",
    response_model=ShareCreated,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409, 422),
)
async def create_share(
    packet_id: PacketId, body: ShareCreate, request: Request, services: ServicesDep, scope: ScopeDep
) -> ShareCreated:
    """The answer is the only place the link's token ever appears."""
    draft = ShareDraft(body.shared_with, body.permissions, body.expires_at, body.password)
    share = await services.shares.create(scope, packet_id, draft)
    viewer = str(request.app.url_path_for(VIEWER_ROUTE, token=share.access_token))
    base = services.settings.public_base_url
    share_url = viewer if base is None else base + viewer
    return ShareCreated.model_validate({**asdict(share), "share_url": share_url})


@router.get("/{packet_id}/shares", response_model=list[ShareOut])
async def list_shares(
    packet_id: PacketId, services: ServicesDep, scope: ScopeDep
) -> list[PacketShare]:
    """A JSON array of the packet's live shares, oldest first; tokens are never listed."""
    return await services.shares.of_packet(scope, packet_id)


@router.delete(
    "/{packet_id}/shares/{share_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
)
async def revoke_share(
    packet_id: PacketId, share_id: EntryId, services: ServicesDep, scope: ScopeDep
) -> None:
    """The link stops working at once."""
    await services.shares.revoke(scope, packet_id, share_id)


@router.get("/{packet_id}/shares/{share_id}/access", response_model=AccessLog)
async def share_access_log(
    packet_id: PacketId, share_id: EntryId, services: ServicesDep, scope: ScopeDep
) -> AccessLog:
    entries: list[ShareAccessEntry] = await services.shares.access_log(scope, packet_id, share_id)
    return AccessLog(
        share_id=share_id,
        items=[AccessEntryOut.model_validate(entry) for entry in entries],
        total=len(entries),
    )


@router.get("/{packet_id}/comments", response_model=CommentList)
async def list_comments(packet_id: PacketId, services: ServicesDep, scope: ScopeDep) -> CommentList:
    comments = await services.shares.comments(scope, packet_id)
    return CommentList(
        packet_id=packet_id,
        items=[CommentOut.model_validate(comment) for comment in comments],
        total=len(comments),
    )
