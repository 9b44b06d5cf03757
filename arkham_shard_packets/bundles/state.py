"""The state of a packet that an export carries.

A draft exports its rows as they are. A sealed (finalized) packet exports the snapshot frozen
when it was finalized, so every export of it is the same and nothing changed behind the
service's back can slip into it: status finalized (shares never travel), its finalize time,
and the name, description, visibility, metadata and contents of the seal.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ..core.unit_of_work import UnitOfWork
from ..errors import Conflict, SnapshotDamaged
from ..models import Packet, PacketContent, PacketStatus, PacketVisibility
from ..records.packets import content_from_row, load_contents, load_packet_row, packet_from_row
from ..sealing.checksum import checksum_of
from ..versions.history import read_snapshot
from ..versions.integrity import sealed_version
from ..versions.snapshots import content_values


@dataclass(frozen=True)
class PacketState:
    packet: Packet
    contents: list[PacketContent]
    sealed_at: datetime | None  # the finalize time of a sealed packet

    @property
    def sealed(self) -> bool:
        return self.packet.checksum is not None

    @property
    def intact(self) -> bool:
        """A sealed state must still give the checksum it was sealed with."""
        return checksum_of(self.packet, self.contents) == self.packet.checksum


async def export_state(work: UnitOfWork, packet_id: str) -> PacketState:
    row = await load_packet_row(work, packet_id)
    packet = packet_from_row(row)
    rows = PacketState(packet, await load_contents(work, packet_id), None)
    if not rows.sealed:
        return rows
    if not rows.intact:
        raise Conflict(f"packet {packet_id} no longer matches its sealed checksum; not exported")
    version = await sealed_version(work, packet_id)
    if version is None:
        raise SnapshotDamaged(f"packet {packet_id} is sealed but its finalize snapshot is missing")
    body = await read_snapshot(work, version)
    frozen: dict[str, Any] = body["packet"]
    sealed_at = datetime.fromisoformat(row["finalized_at"] or row["updated_at"])
    sealed = replace(
        packet,
        name=frozen["name"],
        description=frozen["description"],
        visibility=PacketVisibility(frozen["visibility"]),
        metadata=frozen["metadata"],
        status=PacketStatus.FINALIZED,
        updated_at=sealed_at,
        version=version.version_number,
    )
    contents = [
        content_from_row({**content_values(record, packet_id), "id": record["id"]})
        for record in body["contents"]
    ]
    frozen_state = PacketState(sealed, contents, sealed_at)
    if not frozen_state.intact:
        raise Conflict(f"packet {packet_id}'s finalize snapshot does not give its checksum")
    return frozen_state
