"""Routes for a packet's contents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from ..core.numbers import clamp
from ..deps import EntryId, PacketId, ScopeDep, ServicesDep
from ..models import PacketContent
from ..records.schemas import ContentOut
from ..routing import PacketsRoute, error_responses
from .listing import LIMIT_MAX, OFFSET_MAX
from .schemas import ContentCreate

router = APIRouter(route_class=PacketsRoute, tags=["contents"], responses=error_responses(404))


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
    summary="List a packet's items (a JSON array)",
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
    """A JSON array (no wrapper, as the Shell reads it) of the packet's items by `order`, ties
    by (content_type, content_id): all of them unless `limit`/`offset` are given. The
    `X-Total-Count` header says how many the packet holds. Each item's `file` is its attached
    file (name, media type, size, SHA-256) or null."""
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
    summary="Add an item to a draft",
)
async def add_content(
    packet_id: PacketId, body: ContentCreate, services: ServicesDep, scope: ScopeDep
) -> PacketContent:
    """A draft only (409 otherwise). The same (content_type, content_id) twice in a packet is
    409. The optional `data` object is kept with the item, exported with it and sealed by
    finalize; without it an export asks the Frame for the item's data. Emits
    `packets.content.added`."""
    return await services.contents.add(scope, packet_id, body.draft())


@router.delete(
    "/{packet_id}/contents/{content_entry_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(409),
    summary="Remove an item from a draft",
)
async def remove_content(
    packet_id: PacketId, content_entry_id: EntryId, services: ServicesDep, scope: ScopeDep
) -> None:
    """A draft only (409 otherwise); 204 without a body. Its attached file is released once
    nothing else (no item, no version) names it. Emits `packets.content.removed`."""
    await services.contents.remove(scope, packet_id, content_entry_id)
