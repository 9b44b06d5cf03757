"""Routes for export, the exported file's download, and import."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import ValidationError

from ..attachments.downloads import RANGED_FILE_ANSWER, WantedDep, download
from ..attachments.multipart import MULTIPART_SLACK, FormUpload, MultipartForm, multipart_body
from ..bodies import checked_json, inline_schema, reads_body
from ..deps import ExportId, PacketId, ScopeDep, ServicesDep
from ..errors import InvalidInput
from ..models import PacketExportResult, PacketImportResult
from ..routing import PacketsRoute, error_responses
from .export import download_url
from .schemas import DisclosureRequest, ExportOut, ExportRequest, ImportOut, ImportRequest

collection = APIRouter(route_class=PacketsRoute, tags=["bundles"])
item = APIRouter(route_class=PacketsRoute, tags=["bundles"], responses=error_responses(404))

IMPORT_BODY = multipart_body(
    {
        "merge_mode": {"type": "string", "enum": ["replace", "merge", "skip"]},
        "allow_unverified": {"type": "string", "enum": ["true", "false"]},
    },
    {"application/json": {"schema": inline_schema(ImportRequest)}},
)


NO_FILE_PATH = (
    "file_path is required: the bundle's path on the server, in an allowed import folder "
    "(a relative path is read from the data directory, as imports/<name>); or upload the "
    "bundle as the multipart field 'file'"
)


def said(problem: Any) -> str:
    missing = problem["type"] == "missing" and tuple(problem["loc"]) == ("file_path",)
    return NO_FILE_PATH if missing else str(problem["msg"])


@collection.post(
    "/import",
    response_model=ImportOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(403, 404, 409, 413, 422),
    openapi_extra=IMPORT_BODY,
    summary="Import a bundle",
)
@reads_body(None)  # a streamed upload, bounded by the archive limit; JSON by JSON_BODY_MAX
async def import_packet(
    request: Request, services: ServicesDep, scope: ScopeDep
) -> PacketImportResult:
    """A multipart upload (`file`, `merge_mode`) or JSON `{file_path, merge_mode}`: a file on
    the server in an allowed import folder (`imports/` and `exports/` in the data directory
    by default; a relative path is read from the data directory; elsewhere is 403; a path the
    file system refuses is 403 if the server may not read it, else 404 or 422, never a 5xx).

    Everything is verified before anything is written (paths, sizes, every digest, the seal):
    a refusal is 422 naming the problems, 413 over the archive limit, 507 when the disk would
    fill. `merge_mode`: replace (default), merge or skip, into the bundle's packet if the
    caller sees it (or the packet an earlier import of it made); an existing non-draft packet
    is 409 unless skipped. Otherwise a new packet is made, under the bundle's id for a caller of
    no tenant, under an id made of the caller's tenant and the bundle's id for a caller with a
    tenant: the answer is the same whether or not another tenant holds the bundle's id. The
    importer is the new packet's `created_by` and its items' `added_by`; the bundle's account
    is answered under `claimed` and kept in the import's custody entry. A verified finalized
    bundle is imported finalized. Emits `packets.packet.imported`."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        limit = services.settings.import_max_archive_bytes + MULTIPART_SLACK
        form = MultipartForm(request, max_body=limit)
        upload = FormUpload(form, fields=("merge_mode", "allow_unverified"))
        return await services.imports.import_upload(scope, upload)
    if kind == "application/json":
        try:
            body = ImportRequest.model_validate(await checked_json(request))
        except ValidationError as error:
            raise RequestValidationError(
                [
                    {**problem, "loc": ("body", *problem["loc"]), "msg": said(problem)}
                    for problem in error.errors()
                ]
            ) from None
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
    summary="Export a packet as a bundle",
)
async def export_packet(
    packet_id: PacketId,
    request: Request,
    services: ServicesDep,
    scope: ScopeDep,
    body: ExportRequest = Body(default_factory=ExportRequest),
) -> ExportOut:
    """Writes a zip or tar.gz BagIt bag, or one json document, and answers where to download
    it (`download_url`) with its SHA-256. A finalized packet exports its sealed snapshot (409
    if it no longer matches the seal); items without stored data are resolved through the
    Frame, and `errors` says which could not be. Emits `packets.packet.exported`."""
    result = await services.exports.export(
        scope, packet_id, body.format, authorization=request.headers.get("authorization")
    )
    return _export_out(result)


@item.post(
    "/{packet_id}/disclosures",
    response_model=ExportOut,
    responses=error_responses(409, 422),
    summary="Disclose some items of a sealed version",
)
async def disclose_items(
    packet_id: PacketId, services: ServicesDep, scope: ScopeDep, body: DisclosureRequest
) -> ExportOut:
    """A bundle of the chosen items of a sealed version (default the latest) with the
    version's signed seal and each item's Merkle inclusion proof against it, and nothing else
    of the packet (docs/bundles.md); answered and downloaded as an export is, and recorded in
    the custody log (`disclosed`). 422 for an id that is not an item of the version, 409 for a
    version that is not sealed or whose seal commits to no items one by one. Emits
    `packets.packet.exported`."""
    result = await services.disclosures.disclose(
        scope, packet_id, body.item_ids, body.format, body.version, body.recipient
    )
    return _export_out(result)


def _export_out(result: PacketExportResult) -> ExportOut:
    """An export's answer (a disclosure's too), with where to download its file."""
    return ExportOut.model_validate(
        {**result.__dict__, "download_url": download_url(result.packet_id, result.export_id)}
    )


@item.get(
    "/{packet_id}/exports/{export_id}",
    response_class=StreamingResponse,
    responses=RANGED_FILE_ANSWER,
    summary="Download an export",
)
async def download_export(
    packet_id: PacketId,
    export_id: ExportId,
    services: ServicesDep,
    scope: ScopeDep,
    wanted: WantedDep,
) -> StreamingResponse:
    """Streams the export file (`application/zip`, `application/gzip` or `application/json`)
    with its filename and `ETag` (its SHA-256), or the one `Range` asked for (206, resumable
    with `If-Range`; 416 past the end). Each answer with bytes is an `export_downloaded`
    entry of the custody log, a range's with the bytes it handed over. 404 for an export of
    another packet or tenant."""
    opened = await services.exports.open(scope, packet_id, export_id, wanted)
    return download(
        opened.source, opened.name, opened.media_type, span=opened.span, etag=opened.etag
    )
