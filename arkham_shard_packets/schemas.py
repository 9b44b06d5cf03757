"""Request and response bodies of the REST API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator

from .models import ContentType, PacketStatus, PacketVisibility
from .timeutil import to_text

NAME_MAX = 200
DESCRIPTION_MAX = 10_000
TITLE_MAX = 500
CONTENT_ID_MAX = 255

UtcDatetime = Annotated[datetime, PlainSerializer(to_text, return_type=str)]


def _clean_name(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("name must not be blank")
    return value


class PacketCreate(BaseModel):
    name: str = Field(max_length=NAME_MAX)
    description: str = Field("", max_length=DESCRIPTION_MAX)
    visibility: PacketVisibility = PacketVisibility.PRIVATE
    metadata: dict[str, Any] = Field(default_factory=dict)

    _name = field_validator("name")(_clean_name)


class PacketUpdate(BaseModel):
    """Only the fields sent are changed; an empty description clears it."""

    name: str | None = Field(None, max_length=NAME_MAX)
    description: str | None = Field(None, max_length=DESCRIPTION_MAX)
    visibility: PacketVisibility | None = None
    metadata: dict[str, Any] | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str:
        if value is None:
            raise ValueError("name can't be null")
        return _clean_name(value)

    @field_validator("visibility", "metadata", "description")
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
    content_id: str = Field(min_length=1, max_length=CONTENT_ID_MAX)
    content_title: str = Field("", max_length=TITLE_MAX)
    order: int = Field(0, ge=0)
    data: dict[str, Any] | None = None

    @field_validator("content_id")
    @classmethod
    def _content_id(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("content_id must not be blank")
        return value


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


class ContentList(BaseModel):
    packet_id: str
    items: list[ContentOut]
    total: int


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
