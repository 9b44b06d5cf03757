"""Routes for a packet's versions and for verifying its seal."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query, status

from ..core.schemas import NO_NUL, PacketOut
from ..deps import PacketId, ScopeDep, ServicesDep, VersionNumber
from ..models import PacketVersion
from ..routing import PacketsRoute, error_responses
from .schemas import (
    SUMMARY_MAX,
    RestoreOut,
    VerifyOut,
    VersionCreate,
    VersionDiffOut,
    VersionOut,
    VersionSnapshotOut,
)

router = APIRouter(route_class=PacketsRoute, responses=error_responses(404))

SummaryQuery = Annotated[
    str | None,
    Query(
        max_length=SUMMARY_MAX,
        pattern=NO_NUL,
        description="For the seed's clients; the body field wins",
    ),
]


@router.post(
    "/{packet_id}/versions",
    response_model=VersionOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409),
)
async def create_version(
    packet_id: PacketId,
    services: ServicesDep,
    scope: ScopeDep,
    body: VersionCreate | None = None,
    changes_summary: SummaryQuery = None,
) -> PacketVersion:
    if body is not None and "changes_summary" in body.model_fields_set:
        summary = body.changes_summary
    else:
        summary = changes_summary or ""
    return await services.versions.create(scope, packet_id, summary)


@router.get("/{packet_id}/versions", response_model=list[VersionOut])
async def list_versions(
    packet_id: PacketId, services: ServicesDep, scope: ScopeDep
) -> list[PacketVersion]:
    """A JSON array of the packet's versions, newest first."""
    return await services.versions.list(scope, packet_id)


@router.get(
    "/{packet_id}/versions/{version_number}",
    response_model=VersionSnapshotOut,
    responses=error_responses(409),
)
async def get_version(
    packet_id: PacketId, version_number: VersionNumber, services: ServicesDep, scope: ScopeDep
) -> VersionSnapshotOut:
    found = await services.versions.get(scope, packet_id, version_number)
    return VersionSnapshotOut(
        version=VersionOut.model_validate(found.version), snapshot=found.snapshot
    )


@router.get(
    "/{packet_id}/versions/{from_version}/diff/{to_version}",
    response_model=VersionDiffOut,
    responses=error_responses(409),
)
async def diff_versions(
    packet_id: PacketId,
    from_version: VersionNumber,
    to_version: VersionNumber,
    services: ServicesDep,
    scope: ScopeDep,
) -> VersionDiffOut:
    diff = await services.versions.diff(scope, packet_id, from_version, to_version)
    return VersionDiffOut.model_validate({"packet_id": packet_id, **asdict(diff)})


@router.post(
    "/{packet_id}/versions/{version_number}/restore",
    response_model=RestoreOut,
    responses=error_responses(409),
)
async def restore_version(
    packet_id: PacketId, version_number: VersionNumber, services: ServicesDep, scope: ScopeDep
) -> RestoreOut:
    restored = await services.versions.restore(scope, packet_id, version_number)
    return RestoreOut(
        packet=PacketOut.model_validate(restored.packet),
        version=VersionOut.model_validate(restored.version),
    )


@router.get("/{packet_id}/verify", response_model=VerifyOut)
async def verify_packet(packet_id: PacketId, services: ServicesDep, scope: ScopeDep) -> VerifyOut:
    return VerifyOut.model_validate(await services.integrity.verify(scope, packet_id))
