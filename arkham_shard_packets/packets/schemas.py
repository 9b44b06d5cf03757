"""Request and response bodies of the packet and content routes (the packet and content item
themselves answer as records/schemas.py's PacketOut and ContentOut)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from ..core.bounds import JsonObject, WholeNumber
from ..db.search import MATCHED_MAX
from ..models import ContentType, ItemField, PacketVisibility
from ..records.examples import Answer
from ..records.locks import ORDER_MAX
from ..records.schemas import NO_NUL, NOT_BLANK, AnyText, NotBlankText, PacketOut, Strict
from ..version import __version__
from .contents import ContentDraft

NAME_MAX = 200
DESCRIPTION_MAX = 10_000
TITLE_MAX = 500
CONTENT_ID_MAX = 255

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


def examples(*bodies: dict[str, Any]) -> ConfigDict:
    """A request body's examples, as OpenAPI shows them (and schema-driven tests send them)."""
    return ConfigDict(json_schema_extra={"examples": list(bodies)})


class PacketCreate(Strict):
    model_config = examples(
        {
            "name": "Harbor leak",
            "description": "Shipping records behind the customs story",
            "visibility": "private",
            "metadata": {"case": "H-17", "desk": "investigations"},
        }
    )

    name: Name = Field(description="What the packet is called; not blank")
    description: Description = ""
    visibility: PacketVisibility = PacketVisibility.PRIVATE
    metadata: JsonObject = Field(default_factory=dict)


class PacketUpdate(Strict):
    """Only the fields sent are changed; an empty description clears it."""

    model_config = examples({"description": "Manifests and bills of lading, 2023 to 2024"})

    name: Name | SkipJsonSchema[None] = None
    description: Description | SkipJsonSchema[None] = None
    visibility: PacketVisibility | SkipJsonSchema[None] = None
    metadata: JsonObject | SkipJsonSchema[None] = None

    @field_validator("name", "visibility", "metadata", "description", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("can't be null; leave the field out to keep it")
        return value

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class MatchedItemOut(Answer):
    model_config = ConfigDict(from_attributes=True)

    id: str
    content_type: ContentType
    content_id: str
    content_title: str
    file_name: str | None = Field(
        description="The attached file's name, if any", examples=["manifest.txt"]
    )
    matched: ItemField = Field(
        description="The first field the searched text was found in: the item's title, its "
        "content id or its attached file's name",
        examples=["title"],
    )


class PacketFoundOut(PacketOut):
    matched_items: list[MatchedItemOut] = Field(
        default_factory=list,
        description=f"With `search`: the packet's first {MATCHED_MAX} items (in the contents' "
        "order) the text was found in, and where; empty without `search`, or for a packet "
        "found by its name or description alone",
    )


class PacketPage(Answer):
    items: list[PacketFoundOut]
    total: int
    page: int
    page_size: int
    limit: int
    offset: int


def without_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class ContentCreate(Strict):
    model_config = examples(
        {
            "content_type": "document",
            "content_id": "doc-17",
            "content_title": "Cargo manifest, MV Aurora",
            "order": 0,
            "data": {"pages": 4, "source": "customs FOIA release"},
        },
        {"content_type": "entity", "content_id": "ent-9", "content_title": "Harbor Co."},
    )

    content_type: ContentType
    content_id: ContentId = Field(description="The item's id in the shard that owns it")
    content_title: Title = ""
    # Left out is not 0: the item goes after the last one (`draft`), so no default is shown.
    order: WholeNumber = Field(
        0,
        ge=0,
        le=ORDER_MAX,
        description="Position in the packet, lowest first; items of one position in the order "
        "they were added. Left out: after the last item",
        json_schema_extra=without_default,
    )
    data: JsonObject | None = Field(
        None,
        description="Data kept with the item, exported and sealed with it; without it an "
        "export asks the Frame",
    )

    def draft(self) -> ContentDraft:
        """The item to add, by the owner or through an edit link."""
        order = self.order if "order" in self.model_fields_set else None
        return ContentDraft(
            self.content_type, self.content_id, self.content_title, order, self.data
        )


class TenantMove(Strict):
    model_config = examples({"tenant_id": "7c0f3a0e-0000-4000-8000-00000000000a"}, {})

    tenant_id: UUID | None = Field(
        None, description="The Frame tenant to move the packet into (a UUID); default: the admin's"
    )


class TenantMoveOut(Answer):
    packet: PacketOut
    tenant_id: str = Field(description="The tenant the packet and all its rows now belong to")
    moved_by: str = Field(description="The admin's user id, as the custody entry records it")


class CountOut(Answer):
    count: int


class StatisticsOut(Answer):
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


class StoreHealthOut(Answer):
    backend: str = Field(description="where files are kept: `local` or `s3`")
    reachable: bool = Field(description="whether the store answered just now")


class HealthOut(Answer):
    status: str = Field(description="`healthy`: the shard is up")
    shard: str
    version: str = Field(examples=[__version__])
    database: str
    storage: bool
    store: StoreHealthOut
