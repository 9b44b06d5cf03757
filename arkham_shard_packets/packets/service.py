"""The packet lifecycle (records/lifecycle.py): create, edit, finalize, archive.

Only a draft can be edited; finalize seals the content with its checksum and records the
sealed state as a version (versions/history.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from ..core.canonical import canonical_json
from ..core.clock import now_text, to_text
from ..core.unit_of_work import Transactions
from ..custody import log as custody
from ..custody.seals import Sealer
from ..db.scope import Scope
from ..db.tables import packets
from ..models import Packet, PacketStatus, PacketVisibility, VersionKind
from ..records import lifecycle
from ..records.locks import lock_at_commit, lock_packet, lock_packet_row, locked_row
from ..records.packets import load_packet, packet_from_row
from ..sealing.checksum import RECIPE_VERSION, checksum_of_entries
from ..sealing.item_proofs import SealedItems
from ..versions.history import (
    LATEST,
    Sealed,
    latest_number,
    record_first_version,
    record_sealed_version,
)
from ..versions.snapshots import content_records_beside, packet_record


@dataclass
class PacketDraft:
    name: str
    description: str = ""
    visibility: PacketVisibility = PacketVisibility.PRIVATE
    metadata: dict[str, Any] = field(default_factory=dict)


class PacketService:
    def __init__(self, transactions: Transactions, sealer: Sealer) -> None:
        self.tx = transactions
        self.sealer = sealer

    async def create(self, scope: Scope, draft: PacketDraft) -> Packet:
        now = now_text()
        values = scope.row(
            id=str(uuid.uuid4()),
            name=draft.name,
            description=draft.description,
            status=PacketStatus.DRAFT.value,
            visibility=draft.visibility.value,
            created_by=scope.actor,
            created_at=now,
            updated_at=now,
            version=1,
            contents_count=0,
            size_bytes=0,
            checksum=None,
            checksum_recipe=None,
            finalized_at=None,
            metadata=canonical_json(draft.metadata),
        )
        packet = packet_from_row(values)
        # Nothing here reads a row back: every row goes with the event, on PostgreSQL in the
        # work's only statement (events/outbox.py).
        async with self.tx.write(scope) as work:
            await work.insert(packets, values, at_commit=True)
            work.custody_heads[packet.id] = None  # its log starts in this transaction
            await record_first_version(work, values)
            await custody.append(work, packet.id, "created", name=packet.name, version=1)
            work.emit(
                "packets.packet.created",
                packet_id=packet.id,
                name=packet.name,
                created_by=packet.created_by,
            )
        return packet

    async def get(self, scope: Scope, packet_id: str) -> Packet:
        async with self.tx.read(scope) as work:
            return await load_packet(work, packet_id)

    async def update(
        self, scope: Scope, packet_id: str, changes: dict[str, Any], if_match: str | None = None
    ) -> Packet:
        """`changes` holds only the fields the caller sent; a stale `if_match` ETag is refused."""
        values = dict(changes)
        if "visibility" in values:
            values["visibility"] = PacketVisibility(values["visibility"]).value
        if "metadata" in values:
            values["metadata"] = canonical_json(values["metadata"])
        async with self.tx.write(scope) as work:
            lock = if_match is None and lock_at_commit(work, packet_id, lifecycle.EDIT, **values)
            if not lock:
                packet = await lock_packet(work, packet_id, lifecycle.EDIT, if_match, **values)
            if changes:
                await custody.append(work, packet_id, "edited", fields=sorted(changes))
                work.emit("packets.packet.updated", packet_id=packet_id, changes=sorted(changes))
        if not lock:
            return packet
        return packet_from_row(await locked_row(self.tx, scope, lock, lifecycle.EDIT))

    async def finalize(self, scope: Scope, packet_id: str) -> Packet:
        """Round trips that do not grow with the items: the lock, with the custody log's head;
        the items and the latest version number in one statement sent after it; the signing
        key; then every write with the event, in one statement on PostgreSQL
        (UnitOfWork.insert). On SQLite a short write, in the event loop's thread: its time is
        the seal's own work (the items' digests, the snapshot, the signature), which runs there
        however its statements are sent, and SQLite's write lock is held for that alone."""
        async with self.tx.write(scope) as work:
            row = await lock_packet_row(work, packet_id, lifecycle.FINALIZE)
            beside = [latest_number(work, packet_id)]
            contents, found = await content_records_beside(work, packet_id, beside)
            items = SealedItems.of(contents)
            checksum = checksum_of_entries(packet_record(row), items.encoded)
            finalized_at = to_text(packet_from_row(row).updated_at)
            sealed = {
                "status": PacketStatus.FINALIZED.value,
                "checksum": checksum,
                "checksum_recipe": RECIPE_VERSION,
                "finalized_at": finalized_at,
            }
            version = await record_sealed_version(
                work,
                packet_record({**row, **sealed}),
                Sealed(contents, checksum),
                found[LATEST],
                VersionKind.FINALIZED,
                "finalized",
            )
            number = version.version_number
            await work.update(packets, packet_id, {**sealed, "version": number}, at_commit=True)
            await self.sealer.seal(work, packet_id, number, checksum, finalized_at, items)
            work.emit(
                "packets.packet.finalized", packet_id=packet_id, version=number, checksum=checksum
            )
            return packet_from_row({**row, **sealed, "version": number})

    async def archive(self, scope: Scope, packet_id: str) -> Packet:
        async with self.tx.write(scope) as work:
            packet = await lock_packet(work, packet_id, lifecycle.ARCHIVE)
            row = (
                (
                    await work.conn.execute(
                        work.scope.update(packets)
                        .where(packets.c.id == packet_id)
                        .values(status=PacketStatus.ARCHIVED.value)
                        .returning(*packets.c)
                    )
                )
                .mappings()
                .one()
            )
            await custody.append(work, packet_id, "archived", previous_status=packet.status.value)
            work.emit(
                "packets.packet.updated",
                packet_id=packet_id,
                status=PacketStatus.ARCHIVED.value,
                previous_status=packet.status.value,
            )
            return packet_from_row(row)
