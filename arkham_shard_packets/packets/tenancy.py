"""Moving a packet of no tenant into a tenant, an admin's act: the packet and every row that
hangs off it change tenant in one transaction, recorded in its custody log.

Packets made without a token (the Shell's Packets page, and everything before Frame users were
resolved) belong to no tenant. With `require_user` on, no tenant sees them; this is how they
are brought into one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from ..core.clock import now_text
from ..core.unit_of_work import Transactions
from ..custody import log as custody
from ..db.scope import Scope
from ..db.tables import metadata, packets
from ..errors import Conflict, InvalidInput, PacketNotFound
from ..models import Packet
from ..records.packets import load_packet

# Every table whose rows belong to a packet and carry its tenant (the outbox's events stay in
# the space they were published to; the tallies follow by trigger).
PACKET_ROWS = [t for t in metadata.sorted_tables if {"packet_id", "tenant_id"} <= set(t.c.keys())]


@dataclass(frozen=True)
class Moved:
    packet: Packet
    tenant_id: str


class TenancyService:
    def __init__(self, transactions: Transactions) -> None:
        self.tx = transactions

    async def move(self, scope: Scope, packet_id: str, tenant_id: str | None) -> Moved:
        """Into `tenant_id`, or the admin's own tenant; 404 for no such packet, 409 for one that
        belongs to a tenant already."""
        tenant_id = tenant_id or scope.tenant_id
        if tenant_id is None:
            raise InvalidInput("tenant_id is required: the admin belongs to no tenant")
        async with self.tx.write(scope.within(None), bulk=True) as work:
            found = (
                await work.conn.execute(
                    select(packets.c.tenant_id).where(packets.c.id == packet_id).with_for_update()
                )
            ).first()
            if found is None:
                raise PacketNotFound(packet_id)
            if found.tenant_id is not None:
                raise Conflict(
                    f"packet {packet_id} belongs to a tenant already; only a packet of no "
                    "tenant can be moved into one"
                )
            for table in PACKET_ROWS:
                await work.conn.execute(
                    update(table)
                    .where(table.c.packet_id == packet_id, table.c.tenant_id.is_(None))
                    .values(tenant_id=tenant_id)
                )
            await work.conn.execute(
                update(packets)
                .where(packets.c.id == packet_id)
                .values(tenant_id=tenant_id, updated_at=now_text())
            )
            work.enter(tenant_id)
            await custody.append(work, packet_id, "moved_to_tenant", tenant_id=tenant_id)
            work.emit(
                "packets.packet.updated",
                packet_id=packet_id,
                changes=["tenant"],
                tenant_id=tenant_id,
            )
            return Moved(await load_packet(work, packet_id), tenant_id)
