"""Routes for a packet's contents."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from ..errors import PacketsRoute, error_responses
from ..models import PacketContent
from ..schemas import ContentCreate, ContentList, ContentOut
from ..services.contents import ContentDraft
from .deps import EntryId, PacketId, ScopeDep, ServicesDep


def content_draft(body: ContentCreate) -> ContentDraft:
    """The item a request asks to add, by the owner or through an edit link."""
    return ContentDraft(
        body.content_type, body.content_id, body.content_title, body.order, body.data
    )


router = APIRouter(route_class=PacketsRoute, responses=error_responses(404))


@router.get("/{packet_id}/contents", response_model=ContentList)
async def list_contents(packet_id: PacketId, services: ServicesDep, scope: ScopeDep) -> ContentList:
    items = await services.contents.list(scope, packet_id)
    return ContentList(
        packet_id=packet_id,
        items=[ContentOut.model_validate(entry) for entry in items],
        total=len(items),
    )


@router.post(
    "/{packet_id}/contents",
    response_model=ContentOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409),
)
async def add_content(
    packet_id: PacketId, body: ContentCreate, services: ServicesDep, scope: ScopeDep
) -> PacketContent:
    return await services.contents.add(scope, packet_id, content_draft(body))


@router.delete(
    "/{packet_id}/contents/{content_entry_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(409),
)
async def remove_content(
    packet_id: PacketId, content_entry_id: EntryId, services: ServicesDep, scope: ScopeDep
) -> None:
    await services.contents.remove(scope, packet_id, content_entry_id)
