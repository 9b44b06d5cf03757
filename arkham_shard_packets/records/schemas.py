"""What the schemas of every domain share: the text checks behind their fields, timestamps
as the shard writes them, and the wire shapes of a packet and of a content item, which
several domains answer with."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, PlainSerializer

from ..core.bounds import NO_NUL as NO_NUL  # the schemas of every domain take it from here
from ..core.clock import to_text
from ..models import ContentType, PacketStatus, PacketVisibility
from .examples import Answer

UtcDatetime = Annotated[datetime, PlainSerializer(to_text, return_type=str)]


# "Blank" is what str.strip() removes; the class spells those characters out, because
# regex engines disagree on what \s means.
BLANKS = "".join(f"\\u{ord(c):04x}" for c in map(chr, range(0x10000)) if c.isspace())
NOT_BLANK = rf"^[^\x00]*[^\x00{BLANKS}][^\x00]*$"


def no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def not_blank(value: str) -> str:
    value = no_nul(value).strip()
    if not value:
        raise ValueError("must not be blank")
    return value


AnyText = AfterValidator(no_nul)
NotBlankText = AfterValidator(not_blank)


class EntriesOut(Answer):
    """Custody entries `first` to `last` of a log, both included."""

    first: int
    last: int


class Strict(BaseModel):
    """A request body: a field it doesn't know (a typo, a field that can't be set) is refused."""

    model_config = ConfigDict(extra="forbid")


class PacketOut(Answer):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    description: str
    status: PacketStatus
    visibility: PacketVisibility
    created_by: str
    created_at: UtcDatetime
    updated_at: UtcDatetime
    version: int
    contents_count: int
    size_bytes: int
    checksum: str | None
    metadata: dict[str, Any]


class AttachedFileOut(Answer):
    model_config = ConfigDict(from_attributes=True)

    name: str
    media_type: str
    size: int
    sha256: str


class ContentOut(Answer):
    model_config = ConfigDict(from_attributes=True)

    id: str
    packet_id: str
    content_type: ContentType
    content_id: str
    content_title: str
    added_at: UtcDatetime
    added_by: str
    order: int
    data: dict[str, Any] | None = None
    file: AttachedFileOut | None = None
