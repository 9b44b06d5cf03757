"""A packet's history: recording a version of its current state, and reading versions back.

Versions are numbered 1, 2, 3, ... per packet. Creating a packet records version 1, so every
number the packet's `version` field has ever shown names a stored snapshot. A version is
never changed or deleted once written.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Label, func

from ..core.canonical import sha256_hex
from ..core.clock import now_text
from ..core.unit_of_work import UnitOfWork
from ..db.tables import packet_versions, packets
from ..errors import SnapshotDamaged, VersionNotFound
from ..models import PacketVersion, VersionKind
from ..records.packets import load_packet_row
from ..sealing.checksum import RECIPE_VERSION, packet_checksum
from .snapshots import (
    Record,
    content_records,
    digest_of,
    load_snapshot_text,
    packet_record,
    snapshot_body,
    store_snapshot,
)


@dataclass(frozen=True)
class Sealed:
    """The content records read in this transaction and the checksum computed from them."""

    contents: list[Record]
    checksum: str


def version_from_row(row: Mapping[Any, Any]) -> PacketVersion:
    return PacketVersion(
        id=row["id"],
        packet_id=row["packet_id"],
        version_number=row["version_number"],
        created_at=datetime.fromisoformat(row["created_at"]),
        changes_summary=row["changes_summary"] or "",
        snapshot_path=row["snapshot_path"] or "",
        kind=VersionKind(row["kind"]),
        created_by=row["created_by"],
        checksum=row["checksum"],
        checksum_recipe=row["checksum_recipe"],
    )


async def record_version(
    work: UnitOfWork,
    packet_id: str,
    kind: VersionKind,
    summary: str,
    at_least: int = 1,
    *,
    sealed: Sealed | None = None,
) -> PacketVersion:
    """Snapshot the packet as it stands in this transaction and record it as its next version.

    The caller holds the packet's lock (`lock_packet`, or the packet's own insert), so the
    next number is read and written by one transaction at a time; the unique constraint on
    (packet_id, version_number) backs that up. A caller that has just read the contents and
    computed their checksum in this transaction (finalize) hands them over as `sealed`.
    """
    packet = packet_record(await load_packet_row(work, packet_id))
    if sealed is None:
        contents = await content_records(work, packet_id)
        checksum = packet_checksum(packet, contents)
    else:
        contents, checksum = sealed.contents, sealed.checksum
    latest = (
        await work.conn.execute(
            work.scope.select(packet_versions, func.max(packet_versions.c.version_number)).where(
                packet_versions.c.packet_id == packet_id
            )
        )
    ).scalar_one()
    # An imported packet's history starts at the bundle's version (the earlier ones stayed
    # with whoever exported it); from there numbers run on without gaps.
    number = max((latest or 0) + 1, at_least)
    version = await _write_version(work, packet, contents, checksum, number, kind, summary)
    await work.conn.execute(
        work.scope.update(packets).where(packets.c.id == packet_id).values(version=number)
    )
    return version


LATEST = "latest_version"


def latest_number(work: UnitOfWork, packet_id: str) -> Label[Any]:
    """The packet's highest version number, as a column of a statement the work sends after
    taking the packet's lock (`record_sealed_version` takes it from its row)."""
    latest = work.scope.select(packet_versions, func.max(packet_versions.c.version_number))
    return latest.where(packet_versions.c.packet_id == packet_id).scalar_subquery().label(LATEST)


async def record_sealed_version(
    work: UnitOfWork,
    packet: Record,
    sealed: Sealed,
    latest: int | None,
    kind: VersionKind,
    summary: str,
) -> PacketVersion:
    """`packet` (its record as the work leaves it) with `sealed` as the version after `latest`,
    both read after the work took the packet's lock; written with the work's events. Setting
    the packet's `version` to its number is the caller's, in the update it makes anyway."""
    number = (latest or 0) + 1
    contents, checksum = sealed.contents, sealed.checksum
    return await _write_version(
        work, packet, contents, checksum, number, kind, summary, at_commit=True
    )


async def record_first_version(work: UnitOfWork, row: Mapping[Any, Any]) -> PacketVersion:
    """Version 1 of the packet this transaction has just inserted as `row` (which says
    version 1 already): no items, no earlier version, nothing to read back."""
    packet = packet_record(row)
    checksum = packet_checksum(packet, [])
    return await _write_version(
        work, packet, [], checksum, 1, VersionKind.CREATED, "created", at_commit=True
    )


async def _write_version(
    work: UnitOfWork,
    packet: Record,
    contents: list[Record],
    checksum: str,
    number: int,
    kind: VersionKind,
    summary: str,
    *,
    at_commit: bool = False,
) -> PacketVersion:
    """`at_commit`: its rows are written with the work's events (nothing in the work reads
    them back)."""
    stored = await store_snapshot(work, snapshot_body(packet, contents), at_commit=at_commit)
    values = work.scope.row(
        id=str(uuid.uuid4()),
        packet_id=packet["id"],
        version_number=number,
        created_at=now_text(),
        changes_summary=summary,
        snapshot_path=stored.path,
        kind=kind.value,
        created_by=work.scope.actor,
        checksum=checksum,
        checksum_recipe=RECIPE_VERSION,
    )
    await work.insert(packet_versions, values, at_commit=at_commit)
    return version_from_row(values)


async def load_version(work: UnitOfWork, packet_id: str, number: int) -> PacketVersion:
    row = await work.first(
        work.scope.select(packet_versions).where(
            packet_versions.c.packet_id == packet_id,
            packet_versions.c.version_number == number,
        )
    )
    if row is None:
        raise VersionNotFound(packet_id, number)
    return version_from_row(row)


async def list_versions(work: UnitOfWork, packet_id: str) -> list[PacketVersion]:
    statement = (
        work.scope.select(packet_versions)
        .where(packet_versions.c.packet_id == packet_id)
        .order_by(packet_versions.c.version_number.desc())
    )
    return [version_from_row(row) for row in (await work.conn.execute(statement)).mappings()]


async def read_snapshot(work: UnitOfWork, version: PacketVersion) -> dict[str, Any]:
    """The version's snapshot body, refused if it is missing or does not match its digest."""
    where = f"the snapshot of version {version.version_number} of packet {version.packet_id}"
    digest = digest_of(version.snapshot_path)
    text = None if digest is None else await load_snapshot_text(work, digest)
    if text is None:
        raise SnapshotDamaged(f"{where} is missing")
    if sha256_hex(text) != digest:
        raise SnapshotDamaged(f"{where} no longer matches its digest {digest}")
    body: dict[str, Any] = json.loads(text)
    return body
