"""packet.json: the packet, its ordered contents, its checksum and version, as a bundle
carries them. The json format is the same document with the bytes inline."""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ...core.bounds import text_problem
from ...core.clock import to_text
from ...models import ContentType, PacketStatus, PacketVisibility, ResolutionSource
from .limits import MAX_ORDER, MAX_SIZE

FORMAT_VERSION = 1
PACKET_JSON = "data/packet.json"
SHA256 = r"^[0-9a-f]{64}$"
UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


def _storable(value: str) -> str:
    """Text the database can hold and a response can carry: no NUL, no lone surrogate."""
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _timestamp(value: str) -> str:
    """ISO 8601; stored in the shard's own form (UTC, microseconds, +00:00)."""
    try:
        return to_text(datetime.fromisoformat(value))
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None


Text = Annotated[str, AfterValidator(_storable)]
Timestamp = Annotated[str, AfterValidator(_storable), AfterValidator(_timestamp)]
Actor = Annotated[Text, Field(max_length=255)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FileRef(Strict):
    name: Text = Field(min_length=1, max_length=255)
    media_type: Text = Field(min_length=1, max_length=255)
    size: int = Field(ge=0, le=MAX_SIZE)
    sha256: str = Field(pattern=SHA256)
    path: Text | None = Field(default=None, max_length=4096)  # in a bag
    content_base64: str | None = None  # in the json format


class Resolution(Strict):
    source: ResolutionSource
    path: Text | None = Field(default=None, max_length=4096)  # in a bag: the item's resolved data
    data: Any = None  # in the json format: the item's resolved data


class BundleItem(Strict):
    content_type: ContentType
    content_id: Text = Field(min_length=1, max_length=255)
    content_title: Text = Field(max_length=500)
    order: int = Field(ge=0, le=MAX_ORDER)
    added_at: Timestamp
    added_by: Actor
    data: dict[str, Any] | None = None
    data_sha256: str | None = Field(default=None, pattern=SHA256)
    file: FileRef | None = None
    original_file: FileRef | None = None
    resolution: Resolution


class BundlePacket(Strict):
    id: str = Field(pattern=UUID)
    name: Text = Field(min_length=1, max_length=200)
    description: Text = Field(max_length=10_000)
    status: PacketStatus
    visibility: PacketVisibility
    created_by: Actor
    created_at: Timestamp
    updated_at: Timestamp
    finalized_at: Timestamp | None = None
    version: int = Field(ge=1)  # at most MAX_VERSION on import (verify)
    contents_count: int = Field(ge=0, le=MAX_SIZE)
    size_bytes: int = Field(ge=0, le=MAX_SIZE)
    checksum: str | None = Field(default=None, pattern=SHA256)
    checksum_recipe: int
    metadata: dict[str, Any]


class BundleDocument(Strict):
    format: Literal["arkham-packet"]
    format_version: Literal[1]
    packet: BundlePacket
    contents: list[BundleItem]

    @property
    def sealed(self) -> bool:
        return self.packet.checksum is not None


def safe_name(name: str, limit: int = 100) -> str:
    """A portable file name for a path inside a bag (the real name stays in packet.json)."""
    text = unicodedata.normalize("NFKD", name)
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", text.encode("ascii", "ignore").decode())
    text = text.strip("._") or "file"
    return text[:limit]


def item_path(index: int, content_type: ContentType) -> str:
    return f"data/items/{index:04d}-{content_type.value}.json"


def file_path(index: int, name: str, folder: str = "files") -> str:
    return f"data/{folder}/{index:04d}-{safe_name(name)}"


def render(document: BundleDocument) -> bytes:
    """packet.json's bytes: sorted keys, two-space indent, UTF-8, newline at the end."""
    return (dumps(document.model_dump(mode="json", exclude_none=False)) + "\n").encode("utf-8")


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
