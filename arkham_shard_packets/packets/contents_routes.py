"""Routes for a packet's contents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from ..deps import EntryId, PacketId, ScopeDep, ServicesDep
from ..errors import PacketsRoute, error_responses
from ..models import PacketContent
from .contents import ContentDraft
from .listing import LIMIT_MAX, OFFSET_MAX, clamp
from .schemas import ContentCreate, ContentOut


def content_draft(body: ContentCreate) -> ContentDraft:
    """The item a request asks to add, by the owner or through an edit link."""
    return ContentDraft(
        body.content_type, body.content_id, body.content_title, body.order, body.data
    )


router = APIRouter(route_class=PacketsRoute, responses=error_responses(404))


TOTAL_HEADER = "X-Total-Count"


@router.get(
    "/{packet_id}/contents",
    response_model=list[ContentOut],
    responses={
        200: {
            "headers": {
                TOTAL_HEADER: {
                    "description": "How many items the packet holds",
                    "schema": {"type": "integer"},
                }
            }
        }
    },
)
async def list_contents(
    packet_id: PacketId,
    response: Response,
    services: ServicesDep,
    scope: ScopeDep,
    limit: Annotated[
        int | None, Query(description=f"At most this many items (clamped to 1..{LIMIT_MAX})")
    ] = None,
    offset: Annotated[int | None, Query(description="Skip this many items first")] = None,
) -> list[PacketContent]:
    """A JSON array of the packet's items in order: all of them unless `limit`/`offset` are
    given. The `X-Total-Count` header says how many the packet holds."""
    window = None if limit is None else clamp(limit, 1, LIMIT_MAX)
    items, total = await services.contents.list(
        scope, packet_id, window, clamp(offset or 0, 0, OFFSET_MAX)
    )
    response.headers[TOTAL_HEADER] = str(total)
    return items


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
