"""A packet's contents: the ordered references to documents, entities, claims and analyses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, case, delete, func, select, update
from sqlalchemy.sql.dml import UpdateBase

from ..core.canonical import canonical_json
from ..core.clock import now_text
from ..core.unit_of_work import Transactions, UnitOfWork
from ..custody import log as custody
from ..db.scope import Scope, owned_by_parameter
from ..db.tables import packet_contents, packets
from ..db.upsert import insert_or_skip
from ..errors import ContentNotFound, DuplicateContent
from ..models import ContentType, PacketContent
from ..records import lifecycle
from ..records.packets import content_from_row, load_contents, load_packet, lock_packet, stored_size

# Skipped when it breaks uq_contents_item (the packet holds that type and id already); the
# values are the execution's parameters, so the statement is built once.
ADD_ITEM = insert_or_skip(packet_contents).returning(*packet_contents.c)
ORDER_MAX = 2**31 - 1  # `order` is a 32-bit integer column on both databases
NEXT_OF, NEXT_TENANT = "next_of_packet", "next_of_tenant"


@lru_cache(maxsize=2)
def add_next_item(tenant_scoped: bool) -> UpdateBase:
    """ADD_ITEM, the item placed after the packet's last (0 for its first; past ORDER_MAX, at
    it), read by the insert itself under the packet's row lock, so items added together each
    get their own place. The packet (and its tenant) are the execution's NEXT_OF (and
    NEXT_TENANT); built once for each kind of scope."""
    last = func.max(packet_contents.c.order_num)
    place = select(case((last.is_(None), 0), (last >= ORDER_MAX, ORDER_MAX), else_=last + 1))
    place = place.where(
        packet_contents.c.packet_id == bindparam(NEXT_OF),
        owned_by_parameter(packet_contents, NEXT_TENANT if tenant_scoped else None),
    )
    return ADD_ITEM.values(order_num=place.scalar_subquery())


@dataclass
class ContentDraft:
    content_type: ContentType
    content_id: str
    content_title: str = ""
    order: int | None = None  # None: after the packet's last item
    data: dict[str, Any] | None = None


class ContentService:
    def __init__(self, transactions: Transactions) -> None:
        self.tx = transactions

    async def list(
        self, scope: Scope, packet_id: str, limit: int | None = None, offset: int = 0
    ) -> tuple[list[PacketContent], int]:
        """The items in order (a slice when `limit` is given) and how many the packet holds."""
        async with self.tx.read(scope) as work:
            packet = await load_packet(work, packet_id)
            return await load_contents(work, packet_id, limit, offset), packet.contents_count

    async def add(self, scope: Scope, packet_id: str, draft: ContentDraft) -> PacketContent:
        async with self.tx.write(scope) as work:
            return await add_content(work, packet_id, draft)

    async def remove(self, scope: Scope, packet_id: str, content_entry_id: str) -> None:
        async with self.tx.write(scope) as work:
            await remove_content(work, packet_id, content_entry_id)


async def add_content(work: UnitOfWork, packet_id: str, draft: ContentDraft) -> PacketContent:
    """Inside the caller's unit of work, so a share link's edit and its access log are one.
    The packet's counts go up as it is locked; a duplicate item undoes them with the rest."""
    values = {
        "id": str(uuid.uuid4()),
        "packet_id": packet_id,
        "content_type": draft.content_type.value,
        "content_id": draft.content_id,
        "content_title": draft.content_title,
        "added_at": now_text(),
        "added_by": work.scope.actor,
        "order_num": draft.order,
        "data": None if draft.data is None else canonical_json(draft.data),
    }
    await lock_packet(
        work,
        packet_id,
        lifecycle.EDIT,
        added_bytes=stored_size(values),
    )
    adding: UpdateBase = ADD_ITEM
    place: dict[str, Any] = {}
    if draft.order is None:  # after the last item
        del values["order_num"]
        tenant = work.scope.tenant_id
        adding = add_next_item(tenant is not None)
        place = {NEXT_OF: packet_id} | ({} if tenant is None else {NEXT_TENANT: tenant})
    statement, head = custody.reading_head(work, packet_id, adding)
    row = await work.first(statement, work.scope.row(**values) | place | head)  # its tenant
    if row is None:
        item = f"{draft.content_type.value} {draft.content_id}"
        raise DuplicateContent(f"{item} is already in packet {packet_id}")
    custody.learn_head(work, packet_id, row)
    await custody.append(
        work,
        packet_id,
        "item_added",
        content_entry_id=row["id"],
        content_type=draft.content_type.value,
        content_id=draft.content_id,
    )
    work.emit(
        "packets.content.added",
        packet_id=packet_id,
        content_entry_id=row["id"],
        content_id=draft.content_id,
        content_type=draft.content_type.value,
    )
    return content_from_row(row)


ENTRY, FREED = "removed_entry", "freed_bytes"


@lru_cache(maxsize=2)
def removing(tenant_scoped: bool) -> tuple[UpdateBase, UpdateBase]:
    """The item's delete (ENTRY of NEXT_OF) and its packet's counts going down by one item
    and FREED bytes; the packet (and its tenant) are NEXT_OF (and NEXT_TENANT). Built once
    for each kind of scope."""
    tenant = NEXT_TENANT if tenant_scoped else None
    item = delete(packet_contents).where(
        owned_by_parameter(packet_contents, tenant),
        packet_contents.c.id == bindparam(ENTRY),
        packet_contents.c.packet_id == bindparam(NEXT_OF),
    )
    counts = (
        update(packets)
        .where(owned_by_parameter(packets, tenant), packets.c.id == bindparam(NEXT_OF))
        .values(
            contents_count=packets.c.contents_count - 1,
            size_bytes=packets.c.size_bytes - bindparam(FREED),
        )
    )
    return item.returning(*packet_contents.c), counts


async def remove_content(work: UnitOfWork, packet_id: str, content_entry_id: str) -> None:
    await lock_packet(work, packet_id, lifecycle.EDIT)
    tenant = work.scope.tenant_id  # the packet's, once locked
    item, counts = removing(tenant is not None)
    of_packet = {NEXT_OF: packet_id} | ({} if tenant is None else {NEXT_TENANT: tenant})
    statement, head = custody.reading_head(work, packet_id, item)
    row = await work.first(statement, of_packet | head | {ENTRY: content_entry_id})
    if row is None:
        raise ContentNotFound(packet_id, content_entry_id)
    custody.learn_head(work, packet_id, row)
    await work.conn.execute(counts, of_packet | {FREED: stored_size(row)})
    if row["file_sha256"] is not None:
        work.orphan(row["file_sha256"])
    await custody.append(
        work,
        packet_id,
        "item_removed",
        content_entry_id=content_entry_id,
        content_type=row["content_type"],
        content_id=row["content_id"],
    )
    work.emit(
        "packets.content.removed",
        packet_id=packet_id,
        content_entry_id=content_entry_id,
        content_id=row["content_id"],
        content_type=row["content_type"],
    )
