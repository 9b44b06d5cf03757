"""Routes for export, the exported file's download, and import."""

from __future__ import annotations

from fastapi import APIRouter, Body, Request, status
from fastapi.responses import StreamingResponse

from ..attachments.downloads import download
from ..attachments.multipart import MULTIPART_SLACK, FormUpload, MultipartForm, multipart_body
from ..deps import ScopeDep, ServicesDep
from ..errors import InvalidInput
from ..models import PacketImportResult
from ..routing import PacketsRoute, error_responses
from .export import download_url
from .schemas import ExportOut, ExportRequest, ImportOut, ImportRequest

collection = APIRouter(route_class=PacketsRoute)
item = APIRouter(route_class=PacketsRoute, responses=error_responses(404))

IMPORT_BODY = multipart_body(
    {
        "merge_mode": {"type": "string", "enum": ["replace", "merge", "skip"]},
        "allow_unverified": {"type": "string", "enum": ["true", "false"]},
    },
    {"application/json": {"schema": ImportRequest.model_json_schema()}},
)


@collection.post(
    "/import",
    response_model=ImportOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(403, 404, 409, 413, 422),
    openapi_extra=IMPORT_BODY,
)
async def import_packet(
    request: Request, services: ServicesDep, scope: ScopeDep
) -> PacketImportResult:
    """A multipart upload (`file`, `merge_mode`) or JSON `{file_path, merge_mode}`."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        limit = services.settings.import_max_archive_bytes + MULTIPART_SLACK
        form = MultipartForm(request, max_body=limit)
        return await services.imports.import_upload(scope, FormUpload(form))
    if kind == "application/json":
        try:
            body = ImportRequest.model_validate_json(await request.body())
        except ValueError as error:
            raise InvalidInput(f"invalid import request: {error}") from None
        return await services.imports.import_path(
            scope, body.file_path, body.merge_mode, allow_unverified=body.allow_unverified
        )
    raise InvalidInput(
        "send multipart/form-data (file, merge_mode) or JSON {file_path, merge_mode}"
    )


@item.post(
    "/{packet_id}/export",
    response_model=ExportOut,
    responses=error_responses(409, 422),
)
async def export_packet(
    packet_id: str,
    request: Request,
    services: ServicesDep,
    scope: ScopeDep,
    body: ExportRequest = Body(default_factory=ExportRequest),
) -> ExportOut:
    result = await services.exports.export(
        scope, packet_id, body.format, authorization=request.headers.get("authorization")
    )
    return ExportOut.model_validate(
        {**result.__dict__, "download_url": download_url(packet_id, result.export_id)}
    )


@item.get("/{packet_id}/exports/{export_id}", response_class=StreamingResponse)
async def download_export(
    packet_id: str, export_id: str, services: ServicesDep, scope: ScopeDep
) -> StreamingResponse:
    opened = await services.exports.open(scope, packet_id, export_id)
    return download(opened.handle, opened.name, opened.media_type, opened.size)
