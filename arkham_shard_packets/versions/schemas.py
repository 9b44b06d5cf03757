"""Request and response bodies of the version and verify routes."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from ..models import VersionKind
from ..records.examples import Answer
from ..records.schemas import NO_NUL, PacketOut, Strict, UtcDatetime

SUMMARY_MAX = 2_000


class VersionCreate(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"changes_summary": "manifest and ledger added"}]}
    )

    changes_summary: str = Field(
        "", max_length=SUMMARY_MAX, pattern=NO_NUL, description="What changed, in a few words"
    )


class VersionOut(Answer):
    """The seed's version fields, then why the version was made, by whom, and its checksum."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    packet_id: str
    version_number: int
    created_at: UtcDatetime
    changes_summary: str
    snapshot_path: str
    kind: VersionKind
    created_by: str
    checksum: str | None
    checksum_recipe: int | None


class VersionSnapshotOut(Answer):
    """`snapshot` is the stored body: its canonical JSON hashes to `snapshot_path`."""

    version: VersionOut
    snapshot: dict[str, Any]


class FieldChangeOut(Answer):
    model_config = ConfigDict(from_attributes=True)

    field: str
    before: Any
    after: Any


class ContentSummaryOut(Answer):
    content_type: str
    content_id: str
    content_title: str
    order: int


class ContentChangeOut(Answer):
    model_config = ConfigDict(from_attributes=True)

    content_type: str
    content_id: str
    changes: list[FieldChangeOut]


class VersionDiffOut(Answer):
    model_config = ConfigDict(from_attributes=True)

    packet_id: str
    from_version: int
    to_version: int
    fields_changed: list[FieldChangeOut]
    contents_added: list[ContentSummaryOut]
    contents_removed: list[ContentSummaryOut]
    contents_changed: list[ContentChangeOut]


class RestoreOut(Answer):
    model_config = ConfigDict(from_attributes=True)

    packet: PacketOut
    version: VersionOut


class VerifyOut(Answer):
    model_config = ConfigDict(from_attributes=True)

    packet_id: str
    valid: bool
    checksum: str | None
    computed: str | None
    checked_at: UtcDatetime
    problems: list[str]
    checksum_recipe: int | None
    snapshot_computed: str | None
    sealed_version: int | None
    finalized_at: str | None = Field(description="when the packet was sealed, as recorded")
    signed: bool = Field(
        description="the sealed version has a signed seal (signed at finalize, or attested "
        "later); false for a packet sealed before signed seals, which is valid when its "
        "checksum matches (`warnings` says what that proves)"
    )
    attested_at: str | None = Field(
        description="when the seal was signed by a later attestation (POST /{id}/attest), "
        "not at finalize; null for a seal signed at finalize"
    )
    signed_by: str | None = Field(
        description="fingerprint of the key whose signature on the seal checks"
    )
    signature_valid: bool | None = Field(description="null when there is no seal to check")
    trusted: bool = Field(
        description="signed by this installation's key or a trusted one, not revoked before "
        "the seal was made (`warnings` says why when it was)"
    )
    custody_intact: bool
    custody_head: str | None
    custody_length: int
    warnings: list[str] = Field(
        description="what holds but proves less, such as a seal made before signed seals; "
        "never makes `valid` false"
    )


class AttestOut(Answer):
    """The statement the installation's key signed: an attestation, made at `attested_at`,
    of a seal recorded at `finalized_at` that no signature covered until then."""

    model_config = ConfigDict(from_attributes=True)

    packet_id: str
    version: int = Field(description="the sealed version the attestation is stored with")
    checksum: str
    checksum_recipe: int
    finalized_at: str = Field(description="when the packet was sealed, as recorded")
    attested_at: str = Field(description="when this attestation was signed")
    attested_by: str = Field(description="who asked for it: the admin's user id, or `system`")
    key_fingerprint: str
    custody_head: str = Field(description="hash of the `attested` custody entry it covers")
    custody_length: int
