"""SQLite writers of one process, one at a time, with no turn of the event loop between two.

asyncio.Lock gives a released lock to its first waiter, which takes it at the loop's next turn,
and until then makes every newcomer queue too. Under load a turn of the loop is many requests
long, and a short write on SQLite never lets the loop turn while it holds the lock (its
statements run in the loop's thread, db/inline_sqlite.py): once writers queued, each waited a
whole turn for the one before it, at one write per turn (a write's p50 was 10x a read's under
32 clients). Here a writer that finds the turn free takes it at once, waiters or not; a woken
waiter takes it when it is still free, else waits again, first in line. A writer that holds it
across a suspension (a bulk write in aiosqlite's thread) still makes the others wait.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque


class WriterTurns:
    def __init__(self) -> None:
        self._held = False
        self._waiters: deque[asyncio.Future[None]] = deque()

    def held(self) -> bool:
        return self._held

    async def __aenter__(self) -> None:
        if not self._held:
            self._held = True
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            while True:
                await waiter
                if not self._held:
                    self._held = True
                    return
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.appendleft(waiter)
        except BaseException:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)
            if waiter.done() and not waiter.cancelled():
                self._wake_one()  # it was woken but leaves: the next one goes instead
            raise

    async def __aexit__(self, *_: object) -> None:
        self._held = False
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
