"""Publishing the shard's events to the Frame's bus, after the change they describe is committed."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

SOURCE = "packets"


@dataclass(frozen=True)
class Event:
    event_type: str
    payload: dict[str, Any]


class EventPublisher:
    def __init__(self, bus: Any) -> None:
        self.bus = bus

    async def publish(self, events: list[Event]) -> None:
        for event in events:
            try:
                await self.bus.emit(event.event_type, event.payload, source=SOURCE)
            except Exception:
                logger.exception("event bus refused %s", event.event_type)
