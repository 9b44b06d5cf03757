"""Reads through a share link recorded after the answer, many to a transaction.

A read or view of a shared packet takes no write lock on the request path: the use is queued
here and a background writer records every queued use in one transaction: the log rows, each
share's `access_count` raised by as many (`+ n`, so writers in several processes never lose a
count), `last_accessed_at` only ever moved forward, and a `link_used` entry in the packet's
custody log for each hour a use opens for its link (sharing/hours.py). Count and log stay
equal in every committed state. The owner's routes wait for this process's queue first, so
they see every use answered before them; another process's uses show within one writer's
pass.

What is queued only: uses answered in the last moments before a SIGKILL can be lost (never
counted, logged or entered in the custody log, so count and log still agree). Shutdown writes
the queue, and so does every other write of this process before it begins, so a packet's
custody log keeps the order of what this process answered. Uses that change something
(comments, edits, downloads) and wrong passwords (the lockout reads them) are written in the
request's own transaction, never here. When the queue is full (the database refuses
writes), a use is written on the request path, and its failure is that request's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import insert

from ..core.alarm import Alarm, Watch
from ..core.unit_of_work import Transactions, UnitOfWork
from ..db.scope import Scope
from ..db.tables import packet_shares, share_access_log
from ..models import PacketShare, ShareAction
from ..records.locks import hold_packet
from . import hours
from .records import later

logger = logging.getLogger(__name__)

QUEUE_CAP = 10_000
FLUSH_PATIENCE_S = 10.0


@dataclass(frozen=True)
class Use:
    share: PacketShare
    scope: Scope  # the share's tenant, and the link as the actor
    action: ShareAction
    client_address: str | None
    at: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))  # its log row's


async def write_uses(tx: Transactions, uses: Sequence[Use]) -> None:
    """One transaction: every use's log row, each share's count raised by its uses, and the
    entries its packet's custody log takes for them (one for each hour a use opens for its
    link: sharing/hours.py). Locks are taken packets first, then shares, each in the order of
    their ids (the order of every writer of a packet, the owner's and a link's), so that
    writers never wait in a ring."""
    by_share: dict[str, list[Use]] = defaultdict(list)
    for use in uses:
        by_share[use.share.id].append(use)
    # Not through `tx.write`, which first waits for this very queue to be written.
    async with tx.write_behind(Scope()) as work:
        for packet_id, scope in sorted({use.share.packet_id: use.scope for use in uses}.items()):
            work.scope = scope
            await hold_packet(work, packet_id)
        openings: list[tuple[str, Use, hours.Opening]] = []
        for share_id, group in sorted(by_share.items()):
            work.scope = group[0].scope
            before = await _last_use(work, share_id)
            linked = [hours.LinkUse(use.at, use.action) for use in group]
            openings += [(o.use.at, group[0], o) for o in hours.openings(before, linked)]
            await work.conn.execute(
                work.scope.update(packet_shares)
                .where(packet_shares.c.id == share_id)
                .values(
                    access_count=packet_shares.c.access_count + len(group),
                    last_accessed_at=later(max(use.at for use in group)),
                )
            )
        rows = [
            use.scope.row(
                id=use.id,
                share_id=use.share.id,
                packet_id=use.share.packet_id,
                accessed_at=use.at,
                action=use.action.value,
                client_address=use.client_address,
            )
            for use in uses
        ]
        await work.conn.execute(insert(share_access_log), rows)
        for _, use, opening in sorted(openings, key=lambda found: found[0]):
            work.scope = use.scope
            await hours.enter(work, use.share, opening)
        await work.flush()  # the custody entries


async def _last_use(work: UnitOfWork, share_id: str) -> str | None:
    statement = work.scope.select(packet_shares, packet_shares.c.last_accessed_at).where(
        packet_shares.c.id == share_id
    )
    last: str | None = await work.conn.scalar(statement)
    return last


class UseLog:
    def __init__(self, tx: Transactions, retry_seconds: float = 2.0) -> None:
        self.tx = tx
        self.retry_seconds = retry_seconds
        self._queue: list[Use] = []
        self._queued = 0  # uses ever queued, and written: flush() waits for one to reach the other
        self._waiting: defaultdict[str, set[str]] = defaultdict(set)  # queued uses' ids by share
        self._written = 0
        self._alarm = Alarm()
        self._watch = Watch()
        self._task: asyncio.Task[None] | None = None

    async def record(self, use: Use) -> None:
        if self._task is None or len(self._queue) >= QUEUE_CAP:
            await write_uses(self.tx, [use])
            return
        self._queue.append(use)
        self._queued += 1
        self._waiting[use.share.id].add(use.id)
        self._alarm.ring()

    def waiting(self, share_id: str) -> frozenset[str]:
        """The log row ids of the link's uses this process answered and has not written yet:
        a batch stays here until after its commit, so a reader may find a use both here and in
        the log, and counts it once by its id."""
        return frozenset(self._waiting.get(share_id, ()))

    async def flush(self) -> bool:
        """Waits until every use queued before the call is written; False after the patience."""
        if self._task is None:
            return not self._queue
        queued = self._queued
        self._alarm.ring()
        return await self._watch.until(lambda: self._written >= queued, FLUSH_PATIENCE_S)

    def start(self) -> None:
        self._task = asyncio.create_task(self._write_forever())

    async def stop(self) -> None:
        """Writes the queue (through the writer: a write is never cut off half-way), then stops."""
        await self.flush()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._queue:
            try:
                await self._write_queued()
            except Exception:
                logger.exception("share link uses: %d unrecorded at shutdown", len(self._queue))

    async def _write_forever(self) -> None:
        while True:
            await self._alarm.wait(self.retry_seconds)
            if not self._queue:
                continue
            try:
                await self._write_queued()
            except Exception:
                logger.exception("recording share link uses failed; will retry")
                await asyncio.sleep(min(self.retry_seconds, 1.0))
                self._alarm.ring()

    async def _write_queued(self) -> None:
        batch = self._queue[:]
        await write_uses(self.tx, batch)
        del self._queue[: len(batch)]
        for use in batch:
            ids = self._waiting[use.share.id]
            ids.discard(use.id)
            if not ids:
                del self._waiting[use.share.id]
        self._written += len(batch)
        self._watch.changed()
