"""What a service receives from an upload route: a file it asks for after its own checks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..core.spool import SpooledFile


@dataclass
class ReceivedFile:
    spooled: SpooledFile
    filename: str
    content_type: str | None
    fields: dict[str, str]


class Upload(Protocol):
    async def receive(self, directory: Path, limit: int) -> ReceivedFile: ...
