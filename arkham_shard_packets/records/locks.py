"""The ways a change takes hold of a packet: its row lock, and what the change reads under it
(the custody log's head, the place of an item it adds) in the statement that takes it."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    Integer,
    RowMapping,
    Text,
    bindparam,
    case,
    func,
    literal,
    null,
    select,
)
from sqlalchemy.exc import DBAPIError

from ..core.clock import now_text
from ..core.unit_of_work import Transactions, UnitOfWork
from ..db.at_lock import FromLock
from ..db.row_inserts import RowLock, RowUpdate, Shape, named_write
from ..db.scope import Scope
from ..db.tables import packet_contents, packet_custody, packets
from ..db.upsert import driver_error
from ..errors import Conflict, PacketNotFound, StaleVersion
from ..models import Packet, PacketStatus
from .lifecycle import Rule
from .packets import RowLike, etag_of, if_match_allows, load_packet_row, packet_from_row


async def hold_packet(work: UnitOfWork, packet_id: str) -> None:
    """Take the packet's row lock, and nothing else, unless this work holds it already (for a
    writer that does not change the packet itself: a share link's use, a custody entry)."""
    if packet_id in work.locked_packets:
        return
    statement = (
        work.scope.select(packets, packets.c.tenant_id)
        .where(packets.c.id == packet_id)
        .with_for_update()
    )
    found = (await work.conn.execute(statement)).mappings().first()
    if found is None:
        raise PacketNotFound(packet_id)
    _locked(work, packet_id, found)


# The head of the packet's custody log ("<chain> <position> <hash>", None for an empty log),
# read by the locking UPDATE once the lock is granted. PostgreSQL: RETURNING is computed after
# the row is updated, and migration 0018's function takes a snapshot of its own when called.
# (Not in a SELECT ... FOR UPDATE: its columns are computed before the lock, and again after it
# only if the row was changed meanwhile.) SQLite: a subquery, which sees the database as the
# writer holding its one lock does.
HEAD_AT_LOCK, HEAD_PACKET = "custody_head_at_lock", "head_packet"


def _head_at_lock(dialect: str) -> Any:
    packet = bindparam(HEAD_PACKET, type_=Text)
    if dialect == "postgresql":
        return func.arkham_packet_custody_head(packet, type_=Text)
    entry = packet_custody.c
    return (
        select(
            entry.chain.concat(" ").concat(entry.position).concat(" ").concat(entry.entry_sha256)
        )
        .where(entry.packet_id == packet)
        .order_by(entry.chain.desc(), entry.position.desc())
        .limit(1)
        .scalar_subquery()
    )


def _reads_head_at_lock(work: UnitOfWork, packet_id: str) -> bool:
    return packet_id not in work.custody_heads


def _locked(work: UnitOfWork, packet_id: str, row: RowLike) -> None:
    work.enter(row["tenant_id"])
    work.locked_packets.add(packet_id)
    if HEAD_AT_LOCK in row:
        work.heads_at_lock[packet_id] = row[HEAD_AT_LOCK]


ORDER_MAX = 2**31 - 1  # `order` is a 32-bit integer column on both databases
# The item a change adds, read as the packet is locked: ITEM_SLOT is None when the packet holds
# it already, else its place after the packet's last item (0 for the first; past ORDER_MAX, at
# it). Under the lock no other change adds an item to the packet, so the place stays its own.
ITEM_SLOT, SLOT_PACKET = "item_slot", "slot_packet"
SLOT_TYPE, SLOT_ID = "slot_content_type", "slot_content_id"


def _item_slot(dialect: str) -> Any:
    """PostgreSQL: migration 0018's function (a snapshot of its own, taken after the lock).
    SQLite: subqueries, which see the database as the writer holding its one lock does."""
    packet = bindparam(SLOT_PACKET, type_=Text)
    item_type, item_id = bindparam(SLOT_TYPE, type_=Text), bindparam(SLOT_ID, type_=Text)
    if dialect == "postgresql":
        return func.arkham_packet_item_slot(packet, item_type, item_id, type_=Integer)
    held = (
        select(packet_contents.c.id)
        .where(
            packet_contents.c.packet_id == packet,
            packet_contents.c.content_type == item_type,
            packet_contents.c.content_id == item_id,
        )
        .exists()
    )
    last = (
        select(func.max(packet_contents.c.order_num))
        .where(packet_contents.c.packet_id == packet)
        .scalar_subquery()
    )
    return case((held, null()), (last.is_(None), 0), (last >= ORDER_MAX, ORDER_MAX), else_=last + 1)


# The item a removal takes out, deleted (and the packet's counts lowered by it) once the lock
# is granted, by migration 0019's function: REMOVED_ITEM is its type, id and file's digest
# (FromLock(REMOVED_ITEM, 1) and so on). PostgreSQL, a lock sent at commit only.
REMOVED_ITEM, REMOVED_PACKET, REMOVED_ENTRY = "removed_item", "removed_packet", "removed_entry"
REMOVED_TYPE, REMOVED_ID, REMOVED_FILE = (FromLock(REMOVED_ITEM, n) for n in (1, 2, 3))
NO_SUCH_ITEM = "arkham_packet_remove_item: no such item"


def _removed_item() -> Any:
    packet, entry = bindparam(REMOVED_PACKET, type_=Text), bindparam(REMOVED_ENTRY, type_=Text)
    return func.arkham_packet_remove_item(packet, entry, type_=ARRAY(Text))


def lacks_item(error: DBAPIError) -> bool:
    """Whether `error` is the removal's refusal of an item its packet does not hold."""
    cause = driver_error(error)
    return getattr(cause, "sqlstate", None) == "P0002" and str(cause) == NO_SUCH_ITEM


PLACE, ADDED_BYTES = "locked", "locked_added_bytes"


@lru_cache(maxsize=64)
def _touching(
    shape: Shape, dialect: str, adding: bool, head: bool, slot: bool, removing: bool = False
) -> Any:
    """lock_packet's UPDATE ... RETURNING: the row update of `shape` (db/row_inserts.py) at
    PLACE, built once for each; `adding`, one item of ADDED_BYTES more in the packet's counts;
    `head`, the custody log's head read as the row is locked; `slot`, the item's ITEM_SLOT;
    `removing`, the REMOVED_ITEM (the row returned holds the counts from before it)."""
    touch = named_write(PLACE, shape)
    if adding:
        touch = touch.values(
            contents_count=packets.c.contents_count + 1,
            size_bytes=packets.c.size_bytes + bindparam(ADDED_BYTES),
        )
    touch = touch.returning(*packets.c)
    if head:
        touch = touch.returning(_head_at_lock(dialect).label(HEAD_AT_LOCK))
    if removing:
        touch = touch.returning(_removed_item().label(REMOVED_ITEM))
    return touch.returning(_item_slot(dialect).label(ITEM_SLOT)) if slot else touch


async def lock_packet(
    work: UnitOfWork,
    packet_id: str,
    rule: Rule,
    if_match: str | None = None,
    *,
    added_bytes: int | None = None,
    **changes: Any,
) -> Packet:
    """`lock_packet_row`, the packet as a record."""
    row = await lock_packet_row(work, packet_id, rule, if_match, added_bytes=added_bytes, **changes)
    return packet_from_row(row)


async def lock_packet_row(
    work: UnitOfWork,
    packet_id: str,
    rule: Rule,
    if_match: str | None = None,
    *,
    added_bytes: int | None = None,
    item: tuple[str, str] | None = None,
    **changes: Any,
) -> RowLike:
    """Take the packet's row lock, check its status against the change's `rule` (and the
    caller's ETag), touch `updated_at` and apply `changes` (column values: a refusal rolls them
    back with the rest); `added_bytes`: the change adds an item of that size, counted in;
    `item`: that item's type and id, whose ITEM_SLOT the row holds (without an ETag only).

    Every change to a packet or its contents starts here, so concurrent changes to one
    packet queue behind each other and always see the status they are checked against.
    Without an ETag to compare, one UPDATE ... RETURNING takes the lock and reads the status.
    """
    if item is not None and if_match is not None:
        raise ValueError("an item's slot is read by the lock taken without an ETag")
    await work.flush()  # an earlier change of the work, its rows written for this one to see
    values = {"updated_at": now_text(), **changes}
    if if_match is None:
        row = await _touch(work, packet_id, values, added_bytes, item)
        rule.check_status(packet_id, PacketStatus(row["status"]))
        return row
    return await _touch_matching(work, packet_id, rule, if_match, values, added_bytes)


async def _touch(
    work: UnitOfWork,
    packet_id: str,
    values: dict[str, Any],
    added_bytes: int | None,
    item: tuple[str, str] | None,
) -> RowLike:
    """The lock in one UPDATE ... RETURNING, with what the change reads under it."""
    head = _reads_head_at_lock(work, packet_id)
    change, parameters = _touch_parameters(work, packet_id, values, added_bytes, head, item)
    dialect = work.conn.dialect.name
    statement = _touching(change.shape, dialect, added_bytes is not None, head, bool(item))
    row = await work.first(statement, parameters)
    if row is None:
        raise PacketNotFound(packet_id)
    _locked(work, packet_id, row)
    return row


def _touch_parameters(
    work: UnitOfWork,
    packet_id: str,
    values: dict[str, Any],
    added_bytes: int | None,
    head: bool,
    item: tuple[str, str] | None,
) -> tuple[RowUpdate, dict[str, Any]]:
    """The row update of `_touching` (or `_locking`) and the parameters of its statement."""
    change = RowUpdate(packets, packet_id, work.scope.tenants, values)
    parameters = change.parameters(PLACE)
    if added_bytes is not None:
        parameters[ADDED_BYTES] = added_bytes
    if head:
        parameters[HEAD_PACKET] = packet_id
    if item is not None:
        parameters |= {SLOT_PACKET: packet_id, SLOT_TYPE: item[0], SLOT_ID: item[1]}
    return change, parameters


@lru_cache(maxsize=64)
def _locking(
    place: str,
    shape: Shape,
    adding: bool,
    slot: bool,
    statuses: tuple[str, ...],
    promote: tuple[str, str] | None,
    removing: bool = False,
) -> Any:
    """`_touching` as the lock of a write's one statement (RowLock, PostgreSQL), reading the
    head, of a packet in one of `statuses` only (rechecked on the row as it is once locked);
    `promote` (from, to): a packet of the first status takes the second."""
    accepted = packets.c.status.in_([literal(status) for status in statuses])  # not expanding
    touch = _touching(shape, "postgresql", adding, True, slot, removing).where(accepted)
    if promote is None:
        return touch
    status = packets.c.status
    return touch.values(status=case((status == promote[0], promote[1]), else_=status))


def lock_at_commit(
    work: UnitOfWork,
    packet_id: str,
    rule: Rule,
    *,
    added_bytes: int | None = None,
    item: tuple[str, str] | None = None,
    promote: tuple[PacketStatus, PacketStatus] | None = None,
    removing: str | None = None,
    **changes: Any,
) -> RowLock | None:
    """`lock_packet_row` without an ETag, sent in the work's one statement at commit, for a
    work that changes this packet and sends nothing before. The rows it writes at commit hang
    on the lock (UnitOfWork.insert): they are written only if it takes the packet's row, which
    it does only in a status `rule` accepts, and they may read the locked row's HEAD_AT_LOCK
    and ITEM_SLOT. `promote`: a packet of the first status takes the second. `removing`: the
    id of an item of the packet it deletes once it holds the lock (REMOVED_ITEM; no such item:
    the statement fails, `lacks_item`, and writes nothing). After the commit
    the lock's `found` is the packet's row as changed, or None (nothing was written;
    `locked_row` says why). None on SQLite: the caller locks at once."""
    if work.conn.dialect.name != "postgresql":
        return None
    if work.at_commit or work.lock is not None:
        raise RuntimeError("a lock sent at commit is the first of the work's writes")
    values = {"updated_at": now_text(), **changes}
    change, parameters = _touch_parameters(work, packet_id, values, added_bytes, True, item)
    if removing is not None:
        parameters |= {REMOVED_PACKET: packet_id, REMOVED_ENTRY: removing}
    statuses = tuple(status.value for status in rule.accepts)
    promoted = None if promote is None else (promote[0].value, promote[1].value)
    shape, adding, slot = change.shape, added_bytes is not None, item is not None
    args = (shape, adding, slot, statuses, promoted, removing is not None)
    work.lock = RowLock(packet_id, (_locking, args), parameters)
    work.at_commit.append(work.lock)
    return work.lock


async def locked_row(tx: Transactions, scope: Scope, lock: RowLock, rule: Rule) -> RowMapping:
    """The packet's row as the committed statement of a lock sent at commit changed it; if it
    took no row (nothing was written), why: the packet is not the scope's (404) or its status
    is one `rule` refuses (409)."""
    if lock.found is not None:
        return lock.found
    packet_id = lock.row_id
    async with tx.read(scope) as work:
        row = await load_packet_row(work, packet_id)
    rule.check_status(packet_id, PacketStatus(row["status"]))
    raise Conflict(f"packet {packet_id} changed while this change waited for it; send it again")


async def _touch_matching(
    work: UnitOfWork,
    packet_id: str,
    rule: Rule,
    if_match: str,
    values: dict[str, Any],
    added_bytes: int | None,
) -> RowLike:
    """The lock, the ETag compared, then the change."""
    statement = work.scope.select(packets).where(packets.c.id == packet_id).with_for_update()
    row = (await work.conn.execute(statement)).mappings().first()
    if row is None:
        raise PacketNotFound(packet_id)
    _locked(work, packet_id, row)
    packet = packet_from_row(row)
    if not if_match_allows(if_match, etag_of(packet)):
        raise StaleVersion(f"packet {packet_id} has changed since it was read (ETag mismatch)")
    rule.check(packet)
    if added_bytes is not None:
        values |= {
            "contents_count": packets.c.contents_count + 1,
            "size_bytes": packets.c.size_bytes + added_bytes,
        }
    row = await work.first(
        work.scope.update(packets)
        .where(packets.c.id == packet_id)
        .values(values)
        .returning(*packets.c)
    )
    assert row is not None
    return row
