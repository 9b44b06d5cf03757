"""An in-process event bus with the Frame's interface: emit, subscribe, recent history."""

from __future__ import annotations

import fnmatch
import itertools
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from ..core.clock import now_text

logger = logging.getLogger(__name__)

Callback = Callable[[dict[str, Any]], Awaitable[None] | None]
HISTORY = 1000


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[tuple[str, Callback]] = []
        self._history: deque[dict[str, Any]] = deque(maxlen=HISTORY)
        self._sequence = itertools.count(1)

    async def emit(self, event_type: str, payload: dict[str, Any], source: str = "") -> None:
        event = {
            "event_type": event_type,
            "payload": payload,
            "source": source,
            "timestamp": now_text(),
            "sequence": next(self._sequence),
        }
        self._history.append(event)
        message = {"event_type": event_type, "payload": payload, "source": source}
        for pattern, callback in list(self._subscribers):
            if not fnmatch.fnmatchcase(event_type, pattern):
                continue
            try:
                result = callback(message)
                if result is not None:
                    await result
            except Exception:
                logger.exception("event subscriber %r failed on %s", callback, event_type)

    async def subscribe(self, pattern: str, callback: Callback) -> None:
        self._subscribers.append((pattern, callback))

    async def unsubscribe(self, pattern: str, callback: Callback) -> None:
        self._subscribers = [entry for entry in self._subscribers if entry != (pattern, callback)]

    def recent(self, source: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        events = [e for e in reversed(self._history) if source is None or e["source"] == source]
        return events[:limit]
