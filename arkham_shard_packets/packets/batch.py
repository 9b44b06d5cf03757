"""Bulk actions: the same lifecycle step for many packets, each in its own transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum

from ..db.scope import Scope
from ..errors import PacketsError
from ..models import Packet
from .service import PacketService


class BatchAction(str, Enum):
    FINALIZE = "finalize"
    ARCHIVE = "archive"


@dataclass
class BatchResult:
    processed: int = 0
    failed: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return self.failed == 0


class BatchService:
    def __init__(self, packets: PacketService) -> None:
        self.packets = packets

    async def run(self, scope: Scope, action: BatchAction, ids: list[str]) -> BatchResult:
        step: Callable[[Scope, str], Awaitable[Packet]] = {
            BatchAction.FINALIZE: self.packets.finalize,
            BatchAction.ARCHIVE: self.packets.archive,
        }[action]
        result = BatchResult()
        for packet_id in dict.fromkeys(ids):
            try:
                await step(scope, packet_id)
            except PacketsError as error:
                result.failed += 1
                result.errors.append({"id": packet_id, "detail": error.detail})
            else:
                result.processed += 1
        return result
