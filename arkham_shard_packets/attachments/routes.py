"""Routes for the file attached to a content item."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from ..bodies import reads_body
from ..deps import EntryId, PacketId, ScopeDep, ServicesDep
from ..models import PacketContent
from ..records.schemas import ContentOut
from ..routing import PacketsRoute, error_responses
from .downloads import RANGED_FILE_ANSWER, WantedDep, download
from .multipart import MULTIPART_SLACK, FormUpload, MultipartForm, multipart_body

router = APIRouter(route_class=PacketsRoute, tags=["files"], responses=error_responses(404))

FILE_PATH = "/{packet_id}/contents/{content_entry_id}/file"

UPLOAD_BODY = multipart_body({})


@router.put(
    FILE_PATH,
    response_model=ContentOut,
    responses=error_responses(409, 413, 422),
    openapi_extra=UPLOAD_BODY,
    summary="Attach a file to a draft's item",
)
@reads_body(None)  # streamed to disk, bounded by ARKHAM_PACKETS_MAX_FILE_BYTES
async def attach_file(
    packet_id: PacketId,
    content_entry_id: EntryId,
    request: Request,
    services: ServicesDep,
    scope: ScopeDep,
) -> PacketContent:
    """Attach (or replace) the item's file: multipart field `file`, streamed to disk and
    hashed as it arrives, never held in memory. A draft only (409). Over
    ARKHAM_PACKETS_MAX_FILE_BYTES is 413 and nothing is kept. The item records the name, media
    type, size and SHA-256; finalize seals the digest. Answers the item."""
    form = MultipartForm(request, max_body=services.settings.max_file_bytes + MULTIPART_SLACK)
    return await services.attachments.attach(scope, packet_id, content_entry_id, FormUpload(form))


@router.get(
    FILE_PATH,
    response_class=StreamingResponse,
    responses={**error_responses(409), **RANGED_FILE_ANSWER},
    summary="Download an item's file",
)
async def get_file(
    packet_id: PacketId,
    content_entry_id: EntryId,
    services: ServicesDep,
    scope: ScopeDep,
    wanted: WantedDep,
) -> StreamingResponse:
    """Streams the attached file with its media type, `Content-Length`,
    `Content-Disposition: attachment` and `ETag` (its SHA-256), or the one `Range` asked for
    (206, resumable with `If-Range`; 416 past the end). 404 when the item has none; 409 when
    the stored file is missing."""
    opened = await services.attachments.open(scope, packet_id, content_entry_id, wanted)
    file = opened.file
    return download(opened.source, file.name, file.media_type, span=opened.span, etag=opened.etag)
