"""The rows an import writes: the packet it lands in (found and row-locked, or created under
the first free id it may take), its contents (cleared, or kept and added to), and its totals,
with a sealed bundle's checksum recomputed from what was stored."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import exc, insert

from ..core.canonical import canonical_json
from ..core.clock import now_text
from ..core.file_names import clean_file_name, clean_media_type
from ..core.unit_of_work import UnitOfWork
from ..db.scope import Scope
from ..db.tables import packet_contents, packets
from ..errors import Conflict
from ..models import PacketStatus
from ..records.packets import RowLike, load_contents, load_packet, stored_size
from ..sealing.checksum import RECIPE_VERSION, checksum_of
from .format.document import BundleDocument, BundleItem
from .format.verify import VerifiedBundle
from .packet_ids import ids_to_find, ids_to_take

BATCH = 1000  # content rows per INSERT statement (executemany), not one round trip each


async def find_existing(work: UnitOfWork, bundle_id: str) -> Any:
    """The packet the caller sees that the bundle is imported into, row-locked, if any."""
    for packet_id in ids_to_find(work.scope, bundle_id):
        row = await lock_existing(work, packet_id)
        if row is not None:
            return row
    return None


async def lock_existing(work: UnitOfWork, packet_id: str) -> Any:
    """Row-lock the packet without touching it (a skipped packet stays as it was); the work
    enters its tenant, so an import into a packet of no tenant leaves it one of no tenant."""
    statement = work.scope.select(packets).where(packets.c.id == packet_id).with_for_update()
    row = (await work.conn.execute(statement)).mappings().first()
    if row is not None:
        work.enter(row["tenant_id"])
    return row


def packet_values(document: BundleDocument, seal: bool) -> dict[str, Any]:
    packet = document.packet
    return {
        "name": packet.name,
        "description": packet.description,
        "visibility": packet.visibility.value,
        "metadata": canonical_json(packet.metadata),
        "status": (PacketStatus.FINALIZED if seal else PacketStatus.DRAFT).value,
        "checksum": packet.checksum if seal else None,
        "checksum_recipe": RECIPE_VERSION if seal else None,
        "finalized_at": packet.finalized_at if seal else None,
    }


async def create_packet(work: UnitOfWork, document: BundleDocument, seal: bool) -> str:
    """Created by the importer under the first free id of `ids_to_take`: an id taken by a
    packet the caller can't see is passed over, neither touched nor told of."""
    packet = document.packet
    for packet_id in (*ids_to_take(work.scope, packet.id), str(uuid.uuid4())):
        values = work.scope.row(
            id=packet_id,
            created_by=work.scope.actor,
            created_at=packet.created_at,
            updated_at=now_text(),
            version=packet.version,
            contents_count=0,
            size_bytes=0,
            **packet_values(document, seal),
        )
        try:
            async with work.conn.begin_nested():
                await work.conn.execute(insert(packets).values(values))
            return packet_id
        except exc.IntegrityError:
            if await lock_existing(work, packet_id) is not None:
                raise Conflict(f"packet {packet_id} was created while it was imported") from None
    raise Conflict(f"no free id for the packet of bundle {packet.id}; try again")


async def update_packet(
    work: UnitOfWork, packet_id: str, document: BundleDocument, seal: bool
) -> None:
    values = {**packet_values(document, seal), "updated_at": now_text()}
    if seal:
        values["version"] = document.packet.version
    await work.conn.execute(
        work.scope.update(packets).where(packets.c.id == packet_id).values(values)
    )


async def clear_contents(work: UnitOfWork, packet_id: str) -> set[str]:
    """The packet's contents deleted; the digests of the files they pointed at."""
    rows = await work.conn.execute(
        work.scope.delete(packet_contents)
        .where(packet_contents.c.packet_id == packet_id)
        .returning(packet_contents.c.file_sha256)
    )
    return {digest for (digest,) in rows.all() if digest is not None}


def content_row(scope: Scope, packet_id: str, item: BundleItem) -> dict[str, Any]:
    file = item.file
    return scope.row(
        id=str(uuid.uuid4()),
        packet_id=packet_id,
        content_type=item.content_type.value,
        content_id=item.content_id,
        content_title=item.content_title,
        added_at=item.added_at,
        added_by=scope.actor,  # the bundle's account of it is a claim (claims.py)
        order_num=item.order,
        data=None if item.data is None else canonical_json(item.data),
        # as an upload's are: a name and a media type every later download can carry
        file_name=None if file is None else clean_file_name(file.name),
        file_media_type=None if file is None else clean_media_type(file.media_type),
        file_size=None if file is None else file.size,
        file_sha256=None if file is None else file.sha256,
    )


async def insert_contents(work: UnitOfWork, packet_id: str, rows: list[dict[str, Any]]) -> None:
    """`rows` (made by `content_row`) become the packet's, in the work's tenant."""
    for row in rows:
        row.update(packet_id=packet_id, tenant_id=work.scope.tenant_id)
    for start in range(0, len(rows), BATCH):
        await work.conn.execute(insert(packet_contents), rows[start : start + BATCH])


async def set_totals(
    work: UnitOfWork,
    packet_id: str,
    rows: Sequence[RowLike] | None,
    sealed: VerifiedBundle | None,
) -> None:
    """The packet's count and size: from the rows just inserted when they are all its
    items, else read back; a sealed bundle's checksum recomputed from what was stored."""
    if rows is None:
        rows = (
            (
                await work.conn.execute(
                    work.scope.select(packet_contents).where(
                        packet_contents.c.packet_id == packet_id
                    )
                )
            )
            .mappings()
            .all()
        )
    await work.conn.execute(
        work.scope.update(packets)
        .where(packets.c.id == packet_id)
        .values(contents_count=len(rows), size_bytes=sum(stored_size(row) for row in rows))
    )
    if sealed is not None:
        packet = await load_packet(work, packet_id)
        if checksum_of(packet, await load_contents(work, packet_id)) != sealed.checksum:
            raise Conflict(f"packet {packet_id} would not match its sealed checksum; not imported")
