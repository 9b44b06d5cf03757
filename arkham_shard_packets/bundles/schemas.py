"""Request and response bodies of the export and import routes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ..core.schemas import NO_NUL, UtcDatetime
from ..models import ExportFormat, MergeMode


class ExportRequest(BaseModel):
    format: ExportFormat = ExportFormat.ZIP


class ExportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    packet_id: str
    export_format: ExportFormat
    file_path: str
    file_size_bytes: int
    exported_at: UtcDatetime
    contents_exported: int
    errors: list[str]
    export_id: str
    sha256: str
    download_url: str


class ImportRequest(BaseModel):
    file_path: str = Field(min_length=1, max_length=4096, pattern=NO_NUL)
    merge_mode: MergeMode = MergeMode.REPLACE


class ImportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    packet_id: str
    import_source: str
    imported_at: UtcDatetime
    contents_imported: int
    merge_mode: MergeMode
    errors: list[str]
    verified: bool
    skipped: bool
