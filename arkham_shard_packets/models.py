"""The domain vocabulary: enums and plain records shared by the tables, services and schemas."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any, Literal


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class PacketStatus(str, Enum):
    DRAFT = "draft"
    FINALIZED = "finalized"
    SHARED = "shared"
    ARCHIVED = "archived"


class PacketVisibility(str, Enum):
    PRIVATE = "private"
    TEAM = "team"
    PUBLIC = "public"


class ContentType(str, Enum):
    DOCUMENT = "document"
    ENTITY = "entity"
    CLAIM = "claim"
    EVIDENCE_CHAIN = "evidence_chain"
    MATRIX = "matrix"
    TIMELINE = "timeline"
    REPORT = "report"


class SharePermission(str, Enum):
    VIEW = "view"
    COMMENT = "comment"
    EDIT = "edit"

    def allows(self, action: ShareAction) -> bool:
        return action in PERMITTED_ACTIONS[self]


class ShareState(str, Enum):
    ACTIVE = "active"
    EXPIRED = "expired"


class ShareAction(str, Enum):
    """What a share link was used for, as the access log records it."""

    READ = "read"
    VIEW = "view"
    DOWNLOAD = "download"  # an attached file, through the link
    BUNDLE = "bundle"  # the sealed version's bundle, through the link
    COMMENT = "comment"
    EDIT = "edit"
    PASSWORD_FAILURE = "password_failure"


VIEWING = {ShareAction.READ, ShareAction.VIEW, ShareAction.DOWNLOAD, ShareAction.BUNDLE}
PERMITTED_ACTIONS = {
    SharePermission.VIEW: VIEWING,
    SharePermission.COMMENT: VIEWING | {ShareAction.COMMENT},
    SharePermission.EDIT: VIEWING | {ShareAction.COMMENT, ShareAction.EDIT},
}


class VersionKind(str, Enum):
    """Why a version was recorded."""

    CREATED = "created"
    MANUAL = "manual"
    FINALIZED = "finalized"
    RESTORED = "restored"
    IMPORTED = "imported"


# Where an exported item's data came from: stored with the item, a Frame service, the owning
# shard's API, or nowhere.
ResolutionSource = Literal["stored", "frame", "shard", "unresolved"]


class MergeMode(str, Enum):
    REPLACE = "replace"
    MERGE = "merge"
    SKIP = "skip"


class ExportFormat(str, Enum):
    ZIP = "zip"
    TAR_GZ = "tar.gz"
    JSON = "json"


@dataclass
class Packet:
    id: str
    name: str
    description: str = ""
    status: PacketStatus = PacketStatus.DRAFT
    visibility: PacketVisibility = PacketVisibility.PRIVATE
    created_by: str = "system"
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    version: int = 1
    contents_count: int = 0
    size_bytes: int = 0
    checksum: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AttachedFile:
    """A file attached to a content item; its bytes are stored once per `sha256`."""

    name: str
    media_type: str
    size: int
    sha256: str


@dataclass
class PacketContent:
    id: str
    packet_id: str
    content_type: ContentType
    content_id: str
    content_title: str
    added_at: datetime = field(default_factory=utcnow)
    added_by: str = "system"
    order: int = 0
    data: dict[str, Any] | None = None
    file: AttachedFile | None = None


@dataclass
class PacketShare:
    """A share as its owner sees it. `access_token` is only ever filled in the answer to the
    request that created the share; the database keeps nothing but its digest."""

    id: str
    packet_id: str
    shared_with: str
    permissions: SharePermission = SharePermission.VIEW
    shared_at: datetime = field(default_factory=utcnow)
    expires_at: datetime | None = None
    access_token: str = ""
    shared_by: str = "system"
    shared_by_email: str | None = None
    password_protected: bool = False
    access_count: int = 0
    last_accessed_at: datetime | None = None
    revoked_at: datetime | None = None
    state: ShareState = ShareState.ACTIVE
    item_ids: list[str] | None = None  # a link limited to these items of a sealed version
    items_version: int | None = None


@dataclass
class PacketComment:
    id: str
    packet_id: str
    author: str
    body: str
    created_at: datetime = field(default_factory=utcnow)
    share_id: str | None = None


@dataclass(frozen=True)
class HandedFile:
    """The file a use of a share link handed over: an item's attached file (`download`, with
    the item's entry id) or the sealed bundle (`bundle`)."""

    name: str
    sha256: str
    content_entry_id: str | None = None


@dataclass
class ShareAccessEntry:
    id: str
    share_id: str
    action: ShareAction
    accessed_at: datetime
    client_address: str | None = None
    file: HandedFile | None = None


@dataclass
class PacketVersion:
    id: str
    packet_id: str
    version_number: int
    created_at: datetime = field(default_factory=utcnow)
    changes_summary: str = ""
    snapshot_path: str = ""
    kind: VersionKind = VersionKind.MANUAL
    created_by: str = "system"
    checksum: str | None = None
    checksum_recipe: int | None = None


@dataclass
class PacketExportResult:
    packet_id: str
    export_format: ExportFormat
    file_path: str
    file_size_bytes: int
    exported_at: datetime = field(default_factory=utcnow)
    contents_exported: int = 0
    errors: list[str] = field(default_factory=list)  # what could not be exported
    export_id: str = ""
    sha256: str = ""
    warnings: list[str] = field(default_factory=list)  # exported, but worth knowing


@dataclass
class PacketImportResult:
    packet_id: str
    import_source: str
    imported_at: datetime = field(default_factory=utcnow)
    contents_imported: int = 0
    merge_mode: str = "replace"
    errors: list[str] = field(default_factory=list)  # what could not be imported
    verified: bool = False
    skipped: bool = False
    imported_by: str = "system"
    # The bundle's own attribution, as it claims it (nothing in a bundle can prove it)
    claimed: dict[str, Any] = field(default_factory=dict)
    signed_by: str | None = None
    signature_valid: bool | None = None
    trusted: bool = False
    custody_intact: bool = False
    unverified: bool = False
    warnings: list[str] = field(default_factory=list)  # imported, but worth knowing
    attested_at: str | None = None  # the bundle's seal was signed later, as an attestation
    custody_entries: int = 0  # in the bundle's custody log
    covered_entries: int = 0  # its entries 1..n a seal's signature covers
    unproven_entries: dict[str, int] | None = None  # {"first", "last"}: its own account


@dataclass
class PacketStatistics:
    total_packets: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_visibility: dict[str, int] = field(default_factory=dict)
    total_contents: int = 0
    by_content_type: dict[str, int] = field(default_factory=dict)
    total_shares: int = 0
    active_shares: int = 0
    expired_shares: int = 0
    total_versions: int = 0
    avg_contents_per_packet: float = 0.0
    avg_size_bytes: float = 0.0


@dataclass
class PacketFilter:
    status: PacketStatus | None = None
    visibility: PacketVisibility | None = None
    created_by: str | None = None
    search_text: str | None = None
    has_contents: bool | None = None
    min_version: int | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


ItemField = Literal["title", "content_id", "file_name"]


@dataclass(frozen=True)
class MatchedItem:
    """An item a search found its packet by, and the first field the text was found in."""

    id: str
    content_type: ContentType
    content_id: str
    content_title: str
    file_name: str | None
    matched: ItemField
