"""Routes for the file attached to a content item."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from ..bodies import reads_body
from ..core.schemas import ContentOut
from ..deps import EntryId, PacketId, ScopeDep, ServicesDep
from ..models import PacketContent
from ..routing import PacketsRoute, error_responses
from .downloads import FILE_ANSWER, download
from .multipart import MULTIPART_SLACK, FormUpload, MultipartForm, multipart_body

router = APIRouter(route_class=PacketsRoute, responses=error_responses(404))

FILE_PATH = "/{packet_id}/contents/{content_entry_id}/file"

UPLOAD_BODY = multipart_body({})


@router.put(
    FILE_PATH,
    response_model=ContentOut,
    responses=error_responses(409, 413, 422),
    openapi_extra=UPLOAD_BODY,
)
@reads_body(None)  # streamed to disk, bounded by ARKHAM_PACKETS_MAX_FILE_BYTES
async def attach_file(
    packet_id: PacketId,
    content_entry_id: EntryId,
    request: Request,
    services: ServicesDep,
    scope: ScopeDep,
) -> PacketContent:
    """Attach (or replace) the item's file: multipart field `file`, streamed to the store."""
    form = MultipartForm(request, max_body=services.settings.max_file_bytes + MULTIPART_SLACK)
    return await services.attachments.attach(scope, packet_id, content_entry_id, FormUpload(form))


@router.get(
    FILE_PATH,
    response_class=StreamingResponse,
    responses={**error_responses(409), **FILE_ANSWER},
)
async def get_file(
    packet_id: PacketId, content_entry_id: EntryId, services: ServicesDep, scope: ScopeDep
) -> StreamingResponse:
    opened = await services.attachments.open(scope, packet_id, content_entry_id)
    file = opened.file
    return download(opened.handle, file.name, file.media_type, file.size)
