"""Waking background loops: an alarm that rings on demand or when a wait times out, and a
waiter that can be told to look again.

No `asyncio.wait_for` here: on Python 3.11 it can swallow the cancellation of a task whose wait
ends at that very moment, and a background loop must stop when the shard stops.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Alarm:
    """Wakes a loop when rung, or when its wait times out."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._rung = False

    def ring(self) -> None:
        self._rung = True
        self._event.set()

    async def wait(self, seconds: float) -> bool:
        """True when rung, False when `seconds` passed first."""
        timer = asyncio.get_running_loop().call_later(seconds, self._event.set)
        try:
            await self._event.wait()
        finally:
            timer.cancel()
            self._event.clear()
        rung, self._rung = self._rung, False
        return rung


def _release(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Watch:
    """Waits for a condition on something that says when it changed."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[None]] = set()

    def changed(self) -> None:
        for waiter in self._waiters:
            _release(waiter)

    async def until(self, reached: Callable[[], bool], patience: float) -> bool:
        """True once `reached()`, False if `patience` seconds pass first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + patience
        while not reached():
            if loop.time() >= deadline:
                return False
            waiter: asyncio.Future[None] = loop.create_future()
            timer = loop.call_at(deadline, _release, waiter)
            self._waiters.add(waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiters.discard(waiter)
        return True
