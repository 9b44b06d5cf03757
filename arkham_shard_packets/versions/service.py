"""Versions of a packet: record one on demand, list, read a snapshot, diff two, restore one.

Restoring never rewrites history: version n's state becomes the current state and is
recorded as a new version ("restored from version n").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert

from ..core.canonical import canonical_json
from ..core.unit_of_work import Transactions, UnitOfWork
from ..custody import log as custody
from ..db.scope import Scope
from ..db.tables import packet_contents, packets
from ..models import Packet, PacketVersion, VersionKind
from ..records import lifecycle
from ..records.locks import lock_packet
from ..records.packets import load_packet, stored_size
from .diff import SnapshotDiff, diff_snapshots
from .history import list_versions, load_version, read_snapshot, record_version
from .snapshots import content_values

RESTORED_FIELDS = ("name", "description", "visibility", "metadata")


@dataclass(frozen=True)
class VersionSnapshot:
    version: PacketVersion
    snapshot: dict[str, Any]


@dataclass(frozen=True)
class Restored:
    packet: Packet
    version: PacketVersion


class VersionService:
    def __init__(self, transactions: Transactions) -> None:
        self.tx = transactions

    async def create(self, scope: Scope, packet_id: str, summary: str) -> PacketVersion:
        async with self.tx.write(scope, bulk=True) as work:
            await lock_packet(work, packet_id, lifecycle.NEW_VERSION)
            version = await record_version(work, packet_id, VersionKind.MANUAL, summary)
            await custody.append(
                work,
                packet_id,
                "version_recorded",
                version=version.version_number,
                summary=summary,
            )
            work.emit(
                "packets.version.created",
                packet_id=packet_id,
                version_number=version.version_number,
            )
            return version

    async def list(self, scope: Scope, packet_id: str) -> list[PacketVersion]:
        async with self.tx.read(scope) as work:
            await load_packet(work, packet_id)
            return await list_versions(work, packet_id)

    async def get(self, scope: Scope, packet_id: str, number: int) -> VersionSnapshot:
        async with self.tx.read(scope, bulk=True) as work:
            await load_packet(work, packet_id)
            version = await load_version(work, packet_id, number)
            return VersionSnapshot(version, await read_snapshot(work, version))

    async def diff(self, scope: Scope, packet_id: str, first: int, second: int) -> SnapshotDiff:
        async with self.tx.read(scope, bulk=True) as work:
            await load_packet(work, packet_id)
            before = await read_snapshot(work, await load_version(work, packet_id, first))
            after = await read_snapshot(work, await load_version(work, packet_id, second))
        return diff_snapshots(first, before, second, after)

    async def restore(self, scope: Scope, packet_id: str, number: int) -> Restored:
        async with self.tx.write(scope, bulk=True) as work:
            await lock_packet(work, packet_id, lifecycle.RESTORE)
            snapshot = await read_snapshot(work, await load_version(work, packet_id, number))
            await self._reinstate(work, packet_id, snapshot)
            version = await record_version(
                work, packet_id, VersionKind.RESTORED, f"restored from version {number}"
            )
            packet = await load_packet(work, packet_id)
            await custody.append(
                work,
                packet_id,
                "version_restored",
                from_version=number,
                version=version.version_number,
            )
            work.emit(
                "packets.version.created",
                packet_id=packet_id,
                version_number=version.version_number,
            )
            work.emit("packets.packet.updated", packet_id=packet_id, restored_from=number)
            return Restored(packet, version)

    @staticmethod
    async def _reinstate(work: UnitOfWork, packet_id: str, snapshot: dict[str, Any]) -> None:
        """Replace the packet's editable fields and its contents with the snapshot's."""
        replaced = await work.conn.execute(
            work.scope.delete(packet_contents)
            .where(packet_contents.c.packet_id == packet_id)
            .returning(packet_contents.c.file_sha256)
        )
        work.orphan(*(digest for (digest,) in replaced.all() if digest is not None))
        rows = [work.scope.row(**content_values(item, packet_id)) for item in snapshot["contents"]]
        if rows:
            await work.conn.execute(insert(packet_contents), rows)
        fields = {name: snapshot["packet"][name] for name in RESTORED_FIELDS}
        fields["metadata"] = canonical_json(fields["metadata"])
        await work.conn.execute(
            work.scope.update(packets)
            .where(packets.c.id == packet_id)
            .values(
                **fields,
                contents_count=len(rows),
                size_bytes=sum(stored_size(row) for row in rows),
            )
        )
