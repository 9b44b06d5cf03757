"""What a service receives from an upload route: a file it asks for after its own checks."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..core.filestore import SpooledFile

MEDIA_TYPE = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$"
)
FALLBACK_MEDIA_TYPE = "application/octet-stream"
NAME_MAX = 255


@dataclass
class ReceivedFile:
    spooled: SpooledFile
    filename: str
    content_type: str | None
    fields: dict[str, str]


class Upload(Protocol):
    async def receive(self, directory: Path, limit: int) -> ReceivedFile: ...


def clean_file_name(name: str) -> str:
    """The last path component, without control characters, at most 255 characters."""
    base = re.split(r"[/\\]", name)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    base = base.lstrip(".") or "file"
    return base[:NAME_MAX]


def clean_media_type(value: str | None) -> str:
    kind = (value or "").split(";")[0].strip().lower()
    return kind if MEDIA_TYPE.match(kind) else FALLBACK_MEDIA_TYPE
