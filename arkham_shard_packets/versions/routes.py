"""Routes for a packet's versions, for verifying its seal, and for signing an old seal."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query, status

from ..deps import AdminScopeDep, PacketId, ScopeDep, ServicesDep, VersionNumber
from ..models import PacketVersion
from ..records.schemas import NO_NUL, PacketOut
from ..routing import PacketsRoute, error_responses
from .schemas import (
    SUMMARY_MAX,
    AttestOut,
    RestoreOut,
    VerifyOut,
    VersionCreate,
    VersionDiffOut,
    VersionOut,
    VersionSnapshotOut,
)

router = APIRouter(route_class=PacketsRoute, tags=["versions"], responses=error_responses(404))

SummaryQuery = Annotated[
    str | None,
    Query(
        max_length=SUMMARY_MAX,
        pattern=NO_NUL,
        description="What changed, for clients that send no body (the body's field wins)",
    ),
]


@router.post(
    "/{packet_id}/versions",
    response_model=VersionOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409),
    summary="Record the current state as a version",
)
async def create_version(
    packet_id: PacketId,
    services: ServicesDep,
    scope: ScopeDep,
    body: VersionCreate | None = None,
    changes_summary: SummaryQuery = None,
) -> PacketVersion:
    """Any status but archived (409): the packet's full state becomes the next version (an
    immutable snapshot; numbers run 1, 2, 3, … without gaps). Emits
    `packets.version.created`."""
    if body is not None and "changes_summary" in body.model_fields_set:
        summary = body.changes_summary
    else:
        summary = changes_summary or ""
    return await services.versions.create(scope, packet_id, summary)


@router.get("/{packet_id}/versions", response_model=list[VersionOut], summary="List versions")
async def list_versions(
    packet_id: PacketId, services: ServicesDep, scope: ScopeDep
) -> list[PacketVersion]:
    """A JSON array (no wrapper) of the packet's versions, newest first: number, kind
    (created, manual, finalized, restored, imported), summary, checksum and who made it."""
    return await services.versions.list(scope, packet_id)


@router.get(
    "/{packet_id}/versions/{version_number}",
    response_model=VersionSnapshotOut,
    responses=error_responses(409),
    summary="Read a version's snapshot",
)
async def get_version(
    packet_id: PacketId, version_number: VersionNumber, services: ServicesDep, scope: ScopeDep
) -> VersionSnapshotOut:
    """`{version, snapshot}`: the stored snapshot itself, re-hashed as it is read; one that
    no longer matches its digest is 409."""
    found = await services.versions.get(scope, packet_id, version_number)
    return VersionSnapshotOut(
        version=VersionOut.model_validate(found.version), snapshot=found.snapshot
    )


@router.get(
    "/{packet_id}/versions/{from_version}/diff/{to_version}",
    response_model=VersionDiffOut,
    responses=error_responses(409),
    summary="Compare two versions",
)
async def diff_versions(
    packet_id: PacketId,
    from_version: VersionNumber,
    to_version: VersionNumber,
    services: ServicesDep,
    scope: ScopeDep,
) -> VersionDiffOut:
    """Packet fields changed (`{field, before, after}`), and items added, removed and changed,
    matched by (content_type, content_id). Either order works."""
    diff = await services.versions.diff(scope, packet_id, from_version, to_version)
    return VersionDiffOut.model_validate({"packet_id": packet_id, **asdict(diff)})


@router.post(
    "/{packet_id}/versions/{version_number}/restore",
    response_model=RestoreOut,
    responses=error_responses(409),
    summary="Restore a draft to a version",
)
async def restore_version(
    packet_id: PacketId, version_number: VersionNumber, services: ServicesDep, scope: ScopeDep
) -> RestoreOut:
    """A draft only (409): puts back version n's fields and items (with their entry ids) and
    records the result as a new version; earlier versions are untouched. Answers
    `{packet, version}`."""
    restored = await services.versions.restore(scope, packet_id, version_number)
    return RestoreOut(
        packet=PacketOut.model_validate(restored.packet),
        version=VersionOut.model_validate(restored.version),
    )


@router.get("/{packet_id}/verify", response_model=VerifyOut, summary="Check the seal")
async def verify_packet(packet_id: PacketId, services: ServicesDep, scope: ScopeDep) -> VerifyOut:
    """Recomputes the checksum from the stored rows and from the snapshot frozen at finalize;
    `valid` only when both give the stored checksum and the signed seal and custody log
    check. Each failure is a line in `problems`; a packet never finalized has nothing to
    verify (`valid: false`). A packet sealed before signed seals has no seal: it is valid when
    its checksum matches, with `signed: false` and a line in `warnings`; a seal signed later
    (POST /{id}/attest) is reported with its `attested_at`."""
    return VerifyOut.model_validate(await services.integrity.verify(scope, packet_id))


@router.post(
    "/{packet_id}/attest",
    response_model=AttestOut,
    responses=error_responses(401, 403, 409),
    summary="Sign the seal of a packet sealed before signed seals (admin)",
)
async def attest_seal(
    packet_id: PacketId, services: ServicesDep, scope: AdminScopeDep
) -> AttestOut:
    """For a Frame user with the admin role (401 without a user, 403 for another role). A
    packet sealed before signed seals has no signature; this signs one now with the
    installation's key, as an attestation:
    its statement (`arkham-packet-attestation/1`) says when it was made (`attested_at`, not the
    seal's `finalized_at`) and covers the custody log up to its own `attested` entry. Every
    later export carries it as the packet's seal, and GET /{id}/verify reports it. 409 for a
    packet never sealed, one whose seal is signed already, or one that does not verify."""
    attestation = await services.attestations.attest(scope, packet_id)
    return AttestOut.model_validate(attestation)
