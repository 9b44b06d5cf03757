"""A packet's custody log: appending an entry in the unit of work of the change it records,
and reading the log back. The chain itself (entries, hashes, checks) is sealing/custody_chain.py.

Appends to one packet's log are serialized by the packet's row lock, which every change holds
already and which an append takes if its caller does not (a share link's use, an export).
A unit of work remembers the packets it locked and the heads it wrote, so that its appends
after the first (and every append to a packet it created) read nothing; a change that locks its
packet with its UPDATE reads the head in it (records/locks.py), so its append reads nothing
either; an entry is written at the work's commit, with its events (UnitOfWork.insert).
Entries are never changed or removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Integer, Text, bindparam, cast, func, insert, literal, select

from ..core.canonical import canonical_json, sha256_hex
from ..core.clock import now_text
from ..core.unit_of_work import UnitOfWork
from ..db.at_lock import Formatted, has_values_from_lock, template
from ..db.row_inserts import Derive, lock_column
from ..db.tables import packet_custody
from ..records.locks import HEAD_AT_LOCK, hold_packet
from ..sealing.custody_chain import ChainCheck, Head, new_entry

INSERT_BATCH = 1000
HEAD_COLUMNS = {
    "custody_chain": packet_custody.c.chain,
    "custody_position": packet_custody.c.position,
    "custody_sha256": packet_custody.c.entry_sha256,
}


@dataclass(frozen=True)
class StoredEntry:
    position: int
    text: str
    sha256: str  # as stored beside it: what the next append named as `prev`


def _latest(owned: ColumnElement[bool], packet_id: Any, *columns: Any) -> Any:
    return (
        select(*columns)
        .where(owned, packet_custody.c.packet_id == packet_id)
        .order_by(packet_custody.c.chain.desc(), packet_custody.c.position.desc())
        .limit(1)
    )


async def current_head(work: UnitOfWork, packet_id: str) -> Head | None:
    await work.flush()
    owned = work.scope.owns(packet_custody)
    latest = _latest(owned, packet_id, *HEAD_COLUMNS.values())
    row = (await work.conn.execute(latest)).first()
    return None if row is None else Head(*row)


def _knows_head(work: UnitOfWork, packet_id: str) -> bool:
    """Whether the work knows the head of the packet's log: it wrote it, or read it as it
    locked the packet (records/locks.py)."""
    if packet_id in work.custody_heads:
        return True
    if packet_id not in work.heads_at_lock:
        return False
    read = work.heads_at_lock.pop(packet_id)
    if read is None:
        head = None
    else:
        chain, position, sha256 = read.split(" ")
        head = Head(int(chain), int(position), sha256)
    work.custody_heads[packet_id] = head
    return True


async def append(work: UnitOfWork, packet_id: str, event: str, **details: Any) -> Head | None:
    """Record `event` by the work's actor as the next entry of the packet's log; the log's new
    head, unless the work locks the packet at commit (the head is then known to SQL only)."""
    if work.lock is not None and work.lock.row_id == packet_id:
        await _write_at_lock(work, packet_id, event, details)
        return None
    if _knows_head(work, packet_id):
        head = work.custody_heads[packet_id]
    else:
        await hold_packet(work, packet_id)
        head = await current_head(work, packet_id)
    return await _write(work, packet_id, head, 1, event, details)


def _head_part(n: int) -> Any:
    return func.split_part(lock_column(HEAD_AT_LOCK), " ", n)  # NULL for an empty log


def _position(place: str) -> Any:
    return func.coalesce(cast(_head_part(2), Integer), 0) + 1


def _chain(place: str) -> Any:
    return func.coalesce(cast(_head_part(1), Integer), 1)


@lru_cache(maxsize=16)
def entry_at_lock(start: Formatted | None) -> tuple[tuple[str, Derive], ...]:
    """The columns of an entry written after the head its work's lock returns. Its canonical
    JSON: its text up to `prev` (keys sorted: `prev` and `seq` are its last two; `start` when
    values in that text are the locked row's), then those two from the head."""

    def entry(place: str) -> Any:
        prev = func.coalesce(literal('"') + _head_part(3) + '"', "null")
        text = bindparam(f"{place}_entry", type_=Text) if start is None else start(place)
        return text + ',"prev":' + prev + ',"seq":' + cast(_position(place), Text) + "}"

    def entry_sha256(place: str) -> Any:
        return func.encode(func.sha256(func.convert_to(entry(place), "UTF8")), "hex")

    return (
        ("chain", _chain),
        ("position", _position),
        ("entry", entry),
        ("entry_sha256", entry_sha256),
    )


async def _write_at_lock(work: UnitOfWork, packet_id: str, event: str, details: Any) -> None:
    """The entry after the head the work's lock returns, written in the lock's statement;
    details that are FromLock values are the locked row's (db/at_lock.py)."""
    entry = new_entry(0, None, packet_id, now_text(), work.scope.actor, event, details)
    del entry["prev"], entry["seq"]
    start: Formatted | None = None
    if has_values_from_lock(details):
        text, values = template(canonical_json, entry)
        start = Formatted("entry", values)
    else:
        text = canonical_json(entry)
    row = {"packet_id": packet_id, "entry": text.removesuffix("}")}
    derived = entry_at_lock(start)
    await work.insert(packet_custody, row, at_commit=True, derived=derived)


async def append_to_carried(
    work: UnitOfWork,
    packet_id: str,
    carried: ChainCheck,
    event: str,
    **details: Any,
) -> None:
    """Start the packet's log anew with a log an import carried (each entry as it came, its
    hash that of its canonical JSON), then record `event` after it. A log the packet had
    before stays, superseded: the new entry names its head."""
    await hold_packet(work, packet_id)
    before = await current_head(work, packet_id)
    chain = 1 if before is None else before.chain + 1
    rows = [
        _entry_row(work, packet_id, chain, position, text, digest)
        for position, (text, digest) in enumerate(
            zip(carried.texts, carried.hashes, strict=True), start=1
        )
    ]
    for start in range(0, len(rows), INSERT_BATCH):
        await work.conn.execute(insert(packet_custody), rows[start : start + INSERT_BATCH])
    if before is not None:
        details["superseded"] = {
            "chain": before.chain,
            "head": before.sha256,
            "entries": before.position,
        }
    last = Head(chain, len(rows), carried.hashes[-1]) if rows else None
    await _write(work, packet_id, last, chain, event, details)


def _entry_row(
    work: UnitOfWork, packet_id: str, chain: int, position: int, text: str, digest: str
) -> dict[str, Any]:
    return work.scope.row(
        packet_id=packet_id, chain=chain, position=position, entry=text, entry_sha256=digest
    )


async def _write(
    work: UnitOfWork,
    packet_id: str,
    after: Head | None,
    chain: int,
    event: str,
    details: dict[str, Any],
) -> Head:
    """The entry after `after` (the first of `chain` when None)."""
    if after is not None:
        chain = after.chain
    position = 1 if after is None else after.position + 1
    entry = new_entry(
        position,
        None if after is None else after.sha256,
        packet_id,
        now_text(),
        work.scope.actor,
        event,
        details,
    )
    text = canonical_json(entry)
    digest = sha256_hex(text)
    row = _entry_row(work, packet_id, chain, position, text, digest)
    await work.insert(packet_custody, row, at_commit=True)
    written = Head(chain, position, digest)
    work.custody_heads[packet_id] = written
    return written


async def read_chains(work: UnitOfWork, packet_id: str) -> dict[int, list[StoredEntry]]:
    """Every chain of the packet's log by number, entries in order; the highest is current."""
    await work.flush()
    statement = (
        work.scope.select(
            packet_custody,
            packet_custody.c.chain,
            packet_custody.c.position,
            packet_custody.c.entry,
            packet_custody.c.entry_sha256,
        )
        .where(packet_custody.c.packet_id == packet_id)
        .order_by(packet_custody.c.chain, packet_custody.c.position)
    )
    chains: dict[int, list[StoredEntry]] = {}
    for chain, position, text, digest in await work.conn.execute(statement):
        chains.setdefault(chain, []).append(StoredEntry(position, text, digest))
    return chains


async def read_log(work: UnitOfWork, packet_id: str) -> list[str]:
    """The packet's current log, as an export carries it."""
    chains = await read_chains(work, packet_id)
    return [entry.text for entry in chains[max(chains)]] if chains else []
