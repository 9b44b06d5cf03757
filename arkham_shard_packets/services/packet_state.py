"""The state of a packet that an export carries.

A sealed (finalized) packet exports its frozen state, so every export of it is the same:
its status as sealed (finalized; shares never travel) and its finalize time. Today that
state is read from its rows, which can no longer change once it is finalized; when version
snapshots exist, this is the one place that reads the latest snapshot instead.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from ..db.tables import packets
from ..errors import PacketNotFound
from ..models import Packet, PacketContent, PacketStatus
from .records import load_contents, packet_from_row
from .unit_of_work import UnitOfWork


@dataclass(frozen=True)
class PacketState:
    packet: Packet
    contents: list[PacketContent]
    sealed_at: datetime | None  # the finalize time of a sealed packet

    @property
    def sealed(self) -> bool:
        return self.packet.checksum is not None


async def export_state(work: UnitOfWork, packet_id: str) -> PacketState:
    row = (
        (await work.conn.execute(work.scope.select(packets).where(packets.c.id == packet_id)))
        .mappings()
        .first()
    )
    if row is None:
        raise PacketNotFound(packet_id)
    packet = packet_from_row(row)
    contents = await load_contents(work, packet_id)
    if packet.checksum is None:
        return PacketState(packet, contents, None)
    sealed_at = datetime.fromisoformat(row["finalized_at"] or row["updated_at"])
    frozen = replace(packet, status=PacketStatus.FINALIZED, updated_at=sealed_at)
    return PacketState(frozen, contents, sealed_at)
