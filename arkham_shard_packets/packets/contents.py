"""A packet's contents: the ordered references to documents, entities, claims and analyses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, bindparam, delete, exc, func
from sqlalchemy.sql.dml import UpdateBase

from ..core.canonical import canonical_json
from ..core.clock import now_text
from ..core.unit_of_work import Transactions, UnitOfWork
from ..custody import log as custody
from ..db.row_inserts import Derive, lock_column
from ..db.scope import Scope, owned_by_parameter
from ..db.tables import packet_contents, packets
from ..db.upsert import breaks
from ..errors import ContentNotFound, DuplicateContent
from ..models import ContentType, PacketContent
from ..records import lifecycle
from ..records.locks import (
    ITEM_SLOT,
    REMOVED_FILE,
    REMOVED_ID,
    REMOVED_TYPE,
    lacks_item,
    lock_at_commit,
    lock_packet,
    lock_packet_row,
    locked_row,
)
from ..records.packets import content_from_row, load_contents, load_packet, stored_size

NEXT_OF, NEXT_TENANT = "next_of_packet", "next_of_tenant"


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
        """On PostgreSQL in one statement: the packet's lock, the item, its custody entry and
        its event (`lock_at_commit`); a duplicate item is refused by `uq_contents_item`."""
        try:
            async with self.tx.write(scope) as work:
                content = await add_content(work, packet_id, draft, at_commit=True)
        except exc.IntegrityError as error:
            if breaks(error, "uq_contents_item"):
                raise DuplicateContent(_duplicate(packet_id, draft)) from None
            raise
        if work.lock is None:
            return content
        found = await locked_row(self.tx, scope, work.lock, lifecycle.EDIT)
        if draft.order is None:
            content.order = found[ITEM_SLOT]
        return content

    async def remove(self, scope: Scope, packet_id: str, content_entry_id: str) -> None:
        """On PostgreSQL in one statement: the packet's lock, the item's delete and the
        packet's counts (`lock_at_commit`, `removing`), its custody entry and its event."""
        try:
            async with self.tx.write(scope) as work:
                await remove_content(work, packet_id, content_entry_id, at_commit=True)
        except exc.DBAPIError as error:
            if lacks_item(error):
                raise ContentNotFound(packet_id, content_entry_id) from None
            raise
        if work.lock is not None:
            await locked_row(self.tx, scope, work.lock, lifecycle.EDIT)


async def add_content(
    work: UnitOfWork, packet_id: str, draft: ContentDraft, *, at_commit: bool = False
) -> PacketContent:
    """Inside the caller's unit of work, so a share link's edit and its access log are one.
    The packet's counts go up as it is locked, which also reads whether the packet holds the
    item already and its place after the last one; a duplicate item undoes them with the rest.
    Nothing reads the item back: it is written with the work's other rows (UnitOfWork.insert).
    `at_commit`: for a work that does nothing else, the lock goes with those rows where it can
    (`lock_at_commit`); its place and refusals are then known after the commit."""
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
    size, item = stored_size(values), (draft.content_type.value, draft.content_id)
    lock = at_commit and lock_at_commit(
        work, packet_id, lifecycle.EDIT, added_bytes=size, item=item
    )
    derived: tuple[tuple[str, Derive], ...] = ()
    if lock:
        derived = (("order_num", _order_at_lock),)
    else:
        locked = await lock_packet_row(work, packet_id, lifecycle.EDIT, added_bytes=size, item=item)
        if locked[ITEM_SLOT] is None:
            raise DuplicateContent(_duplicate(packet_id, draft))
        if draft.order is None:  # after the last item
            values["order_num"] = locked[ITEM_SLOT]
    row = work.scope.row(**values)  # its tenant
    await work.insert(packet_contents, row, at_commit=True, derived=derived)
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


def _order_at_lock(place: str) -> Any:
    """The item's `order` as sent, else its place after the last item. When the packet holds
    the item already that place is NULL: 0 then, for `uq_contents_item` to refuse the row."""
    sent = bindparam(f"{place}_order_num", type_=Integer)
    return func.coalesce(sent, lock_column(ITEM_SLOT, Integer), 0)


def _duplicate(packet_id: str, draft: ContentDraft) -> str:
    return f"{draft.content_type.value} {draft.content_id} is already in packet {packet_id}"


ENTRY = "removed_entry"


@lru_cache(maxsize=2)
def removing(tenant_scoped: bool) -> UpdateBase:
    """The item's delete (ENTRY of NEXT_OF); the packet (and its tenant) are NEXT_OF (and
    NEXT_TENANT). Built once for each kind of scope."""
    tenant = NEXT_TENANT if tenant_scoped else None
    item = delete(packet_contents).where(
        owned_by_parameter(packet_contents, tenant),
        packet_contents.c.id == bindparam(ENTRY),
        packet_contents.c.packet_id == bindparam(NEXT_OF),
    )
    return item.returning(*packet_contents.c)


async def remove_content(
    work: UnitOfWork, packet_id: str, content_entry_id: str, *, at_commit: bool = False
) -> None:
    """Inside the caller's unit of work, as `add_content`. `at_commit`: for a work that does
    nothing else, the lock, the delete and the counts go with the work's other rows, the
    item's type and id known to SQL only (REMOVED_ITEM); else they are read as it is deleted."""
    lock = at_commit and lock_at_commit(work, packet_id, lifecycle.EDIT, removing=content_entry_id)
    if lock:
        item: dict[str, Any] = {"content_type": REMOVED_TYPE, "content_id": REMOVED_ID}
        work.orphan(REMOVED_FILE)
    else:
        item = await _delete_now(work, packet_id, content_entry_id)
    await custody.append(work, packet_id, "item_removed", content_entry_id=content_entry_id, **item)
    work.emit(
        "packets.content.removed", packet_id=packet_id, content_entry_id=content_entry_id, **item
    )


async def _delete_now(work: UnitOfWork, packet_id: str, content_entry_id: str) -> dict[str, Any]:
    """The packet locked, the item deleted, and the packet's counts lowered by it, from the
    locked row's (nothing else changes them while the lock is held), with the work's other
    rows (UnitOfWork.update); the item's type and id."""
    packet = await lock_packet(work, packet_id, lifecycle.EDIT)
    tenant = work.scope.tenant_id  # the packet's, once locked
    of_packet = {NEXT_OF: packet_id} | ({} if tenant is None else {NEXT_TENANT: tenant})
    row = await work.first(removing(tenant is not None), of_packet | {ENTRY: content_entry_id})
    if row is None:
        raise ContentNotFound(packet_id, content_entry_id)
    counts = {
        "contents_count": packet.contents_count - 1,
        "size_bytes": packet.size_bytes - stored_size(row),
    }
    await work.update(packets, packet_id, counts, at_commit=True)
    if row["file_sha256"] is not None:
        work.orphan(row["file_sha256"])
    return {"content_type": row["content_type"], "content_id": row["content_id"]}
