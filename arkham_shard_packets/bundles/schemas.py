"""Request and response bodies of the export and import routes."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field

from ..models import ExportFormat, MergeMode
from ..records.examples import Answer
from ..records.schemas import NO_NUL, EntriesOut, Strict, UtcDatetime
from .disclosure import MAX_ITEMS as MAX_DISCLOSED


class ExportRequest(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"format": "zip"}]})

    format: ExportFormat = Field(
        ExportFormat.ZIP,
        description="zip or tar.gz (a BagIt bag), or json (one document, files inline)",
    )


class DisclosureRequest(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"item_ids": ["<content entry id>"], "format": "zip"}]}
    )

    item_ids: list[Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]] = Field(
        min_length=1,
        max_length=MAX_DISCLOSED,
        description="The items to disclose: their content entry ids (`id` of an item)",
    )
    version: int | None = Field(
        None, ge=1, le=2**31 - 1, description="A sealed version; default the latest sealed"
    )
    format: ExportFormat = Field(
        ExportFormat.ZIP,
        description="zip or tar.gz (a BagIt bag), or json (one document, files inline)",
    )
    recipient: str | None = Field(
        None,
        min_length=1,
        max_length=500,
        pattern=NO_NUL,
        description="For whom, as the custody log's `disclosed` entry records it",
    )


class ExportOut(Answer):
    model_config = ConfigDict(from_attributes=True)

    packet_id: str
    export_format: ExportFormat
    file_path: str
    file_size_bytes: int
    exported_at: UtcDatetime
    contents_exported: int
    errors: list[str] = Field(
        description="What could not be exported: files that could not be written into the "
        "bundle. Empty when everything was exported."
    )
    warnings: list[str] = Field(
        description="Exported, but worth knowing: items whose data nothing could resolve "
        "(their records, titles and files are in the bundle, marked `unresolved`)"
    )
    export_id: str
    sha256: str
    download_url: str


class ImportRequest(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"file_path": "imports/packet-harbor-leak-v2.zip", "merge_mode": "skip"}]
        }
    )

    file_path: str = Field(
        min_length=1,
        max_length=4096,
        pattern=NO_NUL,
        description="The bundle on the server, in an allowed import folder; a relative path "
        "is read from the data directory (imports/<name>, or exports/<name> as an export "
        "answer names it)",
    )
    merge_mode: MergeMode = Field(
        MergeMode.REPLACE,
        description="replace (default), merge or skip, when a packet with the bundle's id exists",
    )
    allow_unverified: bool = Field(
        False,
        description="Import a bundle whose seal signature or custody chain does not check; "
        "the packet is then marked unverified in its custody log, its verify answer and its "
        "version's summary",
    )


class ClaimedOut(Answer):
    """The bundle's own account of the packet's making, kept as it claims it: not verified.
    The packet made here names the importer as its `created_by` and its items' `added_by`;
    the import's custody entry keeps this account under `details.claimed`."""

    created_by: str = Field(description="who the bundle says created the packet")
    created_at: str
    finalized_at: str | None
    version: int
    added_by: list[str] = Field(
        description="who the bundle says added its items: its accounts, most items first, at "
        "most 20",
        examples=[["system"]],
    )
    added_by_accounts: int = Field(description="how many accounts the bundle names as adders")


class ImportOut(Answer):
    model_config = ConfigDict(from_attributes=True)

    packet_id: str = Field(
        description="The packet the bundle was imported into: the bundle's packet if the caller "
        "sees it; otherwise a new packet, under the bundle's id for a caller of no tenant (when "
        "free), under an id made of the caller's tenant and the bundle's id for a caller with a "
        "tenant, whether or not another tenant holds the bundle's id"
    )
    import_source: str
    imported_at: UtcDatetime
    contents_imported: int
    merge_mode: MergeMode
    errors: list[str] = Field(
        description="What could not be imported. Empty when the import succeeded: a refused "
        "import answers 4xx and imports nothing"
    )
    warnings: list[str] = Field(
        description="Imported, but worth knowing: items unresolved at export, a seal that "
        "proves less (unsigned, signed by a key not trusted here or revoked, or accepted with "
        "allow_unverified), custody entries no signature covers, a bundle without a custody "
        "log, a new id, a seal a merge dropped"
    )
    verified: bool = Field(
        description="The bundle's contents give the checksum it declares, recomputed here (it "
        "was sealed and nothing in it changed since): self-consistency only. Anyone can seal "
        "a bundle; this proves neither who made it, nor when, nor that it came from this shard."
    )
    skipped: bool
    imported_by: str = Field(description="Who made this import: the actor recorded for it")
    claimed: ClaimedOut
    signed_by: str | None = Field(
        description="fingerprint of the key whose signature on the bundle's seal checks"
    )
    signature_valid: bool | None = Field(description="null when the bundle is not sealed")
    trusted: bool = Field(
        description="signed by this installation's key or a trusted one, not revoked before "
        "the seal was made (`warnings` says why when it was)"
    )
    custody_intact: bool
    unverified: bool = Field(description="accepted with allow_unverified despite problems")
    attested_at: str | None = Field(
        description="the bundle's seal was signed after the packet was sealed, as an "
        "attestation, at this time; null for a seal signed at finalize or no seal"
    )
    custody_entries: int = Field(description="how many entries the bundle's custody log has")
    covered_entries: int = Field(
        description="the bundle's custody entries 1 to this number are covered by its seal's "
        "signature (signed_by), which checks; 0 when no signature covers any (a draft, a seal "
        "made before signed seals, a seal that does not check)"
    )
    unproven_entries: EntriesOut | None = Field(
        description="the bundle's custody entries after those: its own account, which no "
        "signature covers, so whoever held the bundle could have changed, invented or removed "
        "them (not proven); null when there are none"
    )
