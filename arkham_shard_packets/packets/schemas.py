"""Request and response bodies of the REST API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema

from ..core.clock import to_text
from ..models import ContentType, PacketStatus, PacketVisibility

NAME_MAX = 200
DESCRIPTION_MAX = 10_000
TITLE_MAX = 500
CONTENT_ID_MAX = 255

UtcDatetime = Annotated[datetime, PlainSerializer(to_text, return_type=str)]


# What the text checks below enforce, stated in the OpenAPI schema (`pattern`) so that it is
# honest; the checks themselves give people readable messages instead of a regex.
NO_NUL = r"^[^\x00]*$"
# "Blank" is what str.strip() removes; the class spells those characters out, because
# regex engines disagree on what \s means.
_SPACES = "".join(f"\\u{ord(c):04x}" for c in map(chr, range(0x10000)) if c.isspace())
NOT_BLANK = rf"^[^\x00]*[^\x00{_SPACES}][^\x00]*$"


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
Name = Annotated[
    str, Field(max_length=NAME_MAX, json_schema_extra={"pattern": NOT_BLANK}), NotBlankText
]
Description = Annotated[
    str, Field(max_length=DESCRIPTION_MAX, json_schema_extra={"pattern": NO_NUL}), AnyText
]
ContentId = Annotated[
    str, Field(max_length=CONTENT_ID_MAX, json_schema_extra={"pattern": NOT_BLANK}), NotBlankText
]
Title = Annotated[str, Field(max_length=TITLE_MAX, json_schema_extra={"pattern": NO_NUL}), AnyText]


class PacketCreate(BaseModel):
    name: Name
    description: Description = ""
    visibility: PacketVisibility = PacketVisibility.PRIVATE
    metadata: dict[str, Any] = Field(default_factory=dict)


class PacketUpdate(BaseModel):
    """Only the fields sent are changed; an empty description clears it."""

    name: Name | SkipJsonSchema[None] = None
    description: Description | SkipJsonSchema[None] = None
    visibility: PacketVisibility | SkipJsonSchema[None] = None
    metadata: dict[str, Any] | SkipJsonSchema[None] = None

    @field_validator("name", "visibility", "metadata", "description", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("can't be null; leave the field out to keep it")
        return value

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class PacketOut(BaseModel):
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


class PacketPage(BaseModel):
    items: list[PacketOut]
    total: int
    page: int
    page_size: int
    limit: int
    offset: int


class ContentCreate(BaseModel):
    content_type: ContentType
    content_id: ContentId
    content_title: Title = ""
    order: int = Field(0, ge=0, le=2**31 - 1)
    data: dict[str, Any] | None = None


class AttachedFileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    media_type: str
    size: int
    sha256: str


class ContentOut(BaseModel):
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


class CountOut(BaseModel):
    count: int


class StatisticsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    total_packets: int
    by_status: dict[str, int]
    by_visibility: dict[str, int]
    total_contents: int
    by_content_type: dict[str, int]
    total_shares: int
    active_shares: int
    expired_shares: int
    total_versions: int
    avg_contents_per_packet: float
    avg_size_bytes: float


class HealthOut(BaseModel):
    status: str
    shard: str
    version: str
    database: str
    storage: bool
