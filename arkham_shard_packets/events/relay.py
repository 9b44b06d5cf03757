"""The per-process relay: takes the outbox's events (events/outbox.py) from commit to the Frame's
bus, off the request path.

Two loops run in every server process. The deliverer hands events to the bus in the order of
this process's commits: a write hands its events over as it commits (they name this relay),
and the deliverer takes them to the bus at its next turn of the event loop, whether or not
they have a place in the feed yet; at the first event the bus refuses it waits `retry_seconds`
and tries again from there. What the bus took is marked, with the time it took it, at most
every MARK_EVERY_S: many events to a statement, not one write after every commit. The placer
gives committed events their place in the feed (on SQLite the writers place their own); it
runs when the feed is read, when a process without a relay of its own (the offline CLI)
announces its commits through PostgreSQL's LISTEN/NOTIFY, and every `retry_seconds`: each time
for every event committed since, in one call, not once per commit. When told by another
process, and on its timer, it claims the events such processes wrote, for this relay to
deliver. Events placed and never marked (their process was killed, or its bus is down) are
taken up at start and, once ABANDONED_AFTER old, by any relay.
A slow or absent bus holds up only the deliverer: no answer waits for either loop, and the
feed keeps filling. Delivery is at least once: a process killed between handing events over
and marking them (a second at most) hands them over again after its restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..core.alarm import Alarm, Watch
from ..core.clock import now_text
from ..core.unit_of_work import Event
from ..db.row_inserts import RowWrite
from ..db.session import Database
from . import outbox
from .outbox import Placed

logger = logging.getLogger(__name__)

SOURCE = "packets"
CHANNEL = "arkham_packets_outbox"
SETTLE_PATIENCE_S = 10.0
FEED_PATIENCE_S = 1.0
QUEUE_CAP = 10_000  # events held for the bus; beyond, the deliverer reads them back later
ABANDONED_AFTER = timedelta(seconds=60)
MARK_EVERY_S = 1.0


class Progress:
    """Commits told of, and how far placing and delivering have come: a caller can wait for a
    pass that began after its own commit."""

    def __init__(self) -> None:
        self.asked = 0
        self.placed = 0
        self.delivered = 0
        self._watch = Watch()

    def advance(self, *, placed: int | None = None, delivered: int | None = None) -> None:
        if placed is not None:
            self.placed = placed
        if delivered is not None:
            self.delivered = delivered
        self._watch.changed()

    async def wait_for(self, reached: Callable[[], bool], patience: float) -> bool:
        return await self._watch.until(reached, patience)


class OutboxRelay:
    def __init__(self, database: Database, bus: Any, retry_seconds: float = 2.0) -> None:
        self.database = database
        self.bus = bus
        self.retry_seconds = retry_seconds
        self.progress = Progress()
        self._commits = Alarm()
        self._placed = Alarm()
        self._queue: deque[Placed] = deque()
        self._queued: set[int] = set()
        self._behind = True  # placed events may wait that are not queued: read them back
        self._taken: dict[int, str] = {}  # sequence: when the bus took it, not yet marked
        self._marked_at = 0.0
        self._told = True  # claim what relay-less processes wrote: at start, then when told
        self._tasks: list[asyncio.Task[None]] = []
        self.identity = uuid.uuid4().hex  # what this process's events name as their relay

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    @property
    def delivering(self) -> str | None:
        """This relay's identity while it hands events to a bus: the relay a write's events
        name. None: whoever claims them delivers them."""
        return self.identity if self.running and self.bus is not None else None

    async def record(
        self,
        conn: AsyncConnection,
        tenant_id: str | None,
        events: Sequence[Event],
        at_commit: Sequence[RowWrite],
    ) -> list[Placed]:
        """Writes a unit of work's events in its transaction, to be delivered by this relay."""
        return await outbox.append(conn, tenant_id, events, self.delivering, at_commit)

    async def committed(self, events: Sequence[Placed]) -> None:
        """A unit of work of this process committed `events` (placed in the feed already on
        SQLite, else not yet)."""
        if self.running:  # placed when the feed is read, or at the placer's next turn
            if self.bus is not None:
                self._enqueue(events)
                self._placed.ring()
            return
        # No relay runs in this process (the offline CLI): place the events in the feed now,
        # and tell a server process on the same PostgreSQL to deliver them.
        if any(event.position is None for event in events):
            await outbox.place(self.database)
        await self.announce()

    def wake(self) -> None:
        self.progress.asked += 1
        self._commits.ring()

    def tell(self) -> None:
        """Another process committed events for any relay to deliver."""
        self._told = True
        self.wake()

    async def announce(self) -> None:
        if self.database.dialect != "postgresql":
            return
        async with self.database.writing() as conn:
            await conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})

    async def placed(self) -> None:
        """Returns once every event committed before the call has its place in the feed, after
        FEED_PATIENCE_S at the most. On SQLite the writers placed theirs."""
        if not self.running or self.database.dialect == "sqlite":
            return
        self.wake()
        asked = self.progress.asked
        await self.progress.wait_for(lambda: self.progress.placed >= asked, FEED_PATIENCE_S)

    async def settle(self, patience_s: float = SETTLE_PATIENCE_S) -> bool:
        """Waits for everything committed before the call to be placed and handed to the bus
        (or refused by it); False when that takes more than `patience_s`."""
        if not self.running:
            self._enqueue(await outbox.place(self.database))
            if self.bus is not None:
                await self._deliver()
                await self._mark()
            return True
        self.wake()
        asked = self.progress.asked
        done = self.progress.wait_for(lambda: self.progress.delivered >= asked, patience_s)
        settled = await done
        await self._mark()
        return settled

    async def pending(self) -> int:
        await self._mark()
        return await outbox.pending(self.database)

    def start(self) -> None:
        self._spawn(self._place_forever)
        if self.bus is not None:
            self._spawn(self._deliver_forever)
        if self.database.dialect == "postgresql":
            self._spawn(self._listen_forever)
        self.wake()  # whatever an earlier process left

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            await self._mark()
        except Exception:
            logger.exception("marking delivered events failed; they will be delivered again")

    def _spawn(self, loop: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._tasks.append(asyncio.create_task(loop()))

    # -- placing -------------------------------------------------------------------------

    async def _place_forever(self) -> None:
        while True:
            woken = await self._commits.wait(self.retry_seconds)
            asked = self.progress.asked
            told, self._told = self._told, False
            try:
                if woken or await outbox.has_unplaced(self.database):
                    await outbox.place(self.database)
                if self.bus is not None and (told or not woken):
                    self._enqueue(await outbox.claim_unrelayed(self.database, self.identity))
            except Exception:
                self._told = self._told or told
                logger.exception("placing events in the feed failed; will retry")
                await asyncio.sleep(min(self.retry_seconds, 1.0))
                self._commits.ring()
                continue
            self.progress.advance(placed=asked)
            self._placed.ring()

    def _enqueue(self, events: Iterable[Placed]) -> None:
        for event in events:
            if event.sequence in self._queued:
                continue
            if len(self._queue) >= QUEUE_CAP:
                self._behind = True
                return
            self._queue.append(event)
            self._queued.add(event.sequence)

    # -- delivering ----------------------------------------------------------------------

    async def _deliver_forever(self) -> None:
        while True:
            rung = await self._placed.wait(self.retry_seconds)
            placed = self.progress.placed
            try:
                if self._behind:
                    await self._read_back(older_than=None)
                elif not rung:
                    await self._read_back(older_than=ABANDONED_AFTER)
                while await self._deliver() and self._behind:
                    await self._read_back(older_than=None)
                if not rung or asyncio.get_running_loop().time() >= self._marked_at + MARK_EVERY_S:
                    await self._mark()
            except Exception:
                logger.exception("delivering events failed; will retry")
            self.progress.advance(delivered=placed)

    async def _read_back(self, older_than: timedelta | None) -> None:
        """Queues placed events no one marked delivered, in feed order: all of them when this
        relay starts or fell behind, else those older than `older_than` (their relay is gone
        or stuck)."""
        besides = self._queued | self._taken.keys()
        found = await outbox.undelivered(self.database, older_than=older_than, besides=besides)
        if older_than is None:
            self._behind = len(found) >= outbox.BATCH
        if found:
            queued = [*found, *self._queue]
            self._queue.clear()
            self._queued.clear()
            self._enqueue(sorted(queued, key=lambda event: event.sequence))

    async def _deliver(self) -> bool:
        """Hands the queue to the bus in order, up to the first event it refuses; whether it
        took them all."""
        while self._queue:
            batch = [self._queue[n] for n in range(min(len(self._queue), outbox.BATCH))]
            sent: list[int] = []
            refused: Placed | None = None
            for event in batch:
                try:
                    await self.bus.emit(event.event_type, json.loads(event.payload), source=SOURCE)
                except Exception:
                    logger.exception("event bus refused %s; will retry", event.event_type)
                    refused = event
                    break
                sent.append(event.sequence)
                self._taken[event.sequence] = now_text()
            for _ in sent:
                self._queued.discard(self._queue.popleft().sequence)
            if refused is not None:
                await outbox.count_attempt(self.database, refused.sequence)
                return False
        return True

    async def _mark(self) -> None:
        """Records what the bus took, and when, in one statement."""
        self._marked_at = asyncio.get_running_loop().time()
        taken, self._taken = self._taken, {}
        if not taken:
            return
        try:
            await outbox.mark_delivered(self.database, taken)
        except BaseException:
            self._taken = {**taken, **self._taken}
            raise

    # -- being told by other processes ---------------------------------------------------

    async def _listen_forever(self) -> None:
        """PostgreSQL: a NOTIFY on CHANNEL (an offline process committed events) wakes us."""
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("outbox relay: LISTEN %s failed; will retry", CHANNEL)
            await asyncio.sleep(self.retry_seconds)

    async def _listen(self) -> None:
        async with self.database.engine.connect() as conn:
            try:
                raw = await conn.get_raw_connection()
                driver: Any = raw.driver_connection
                lost = asyncio.Event()
                driver.add_termination_listener(lambda *_: lost.set())
                await driver.add_listener(CHANNEL, lambda *_: self.tell())
                await lost.wait()
            finally:
                # A listening connection never goes back to the pool.
                await conn.invalidate()
