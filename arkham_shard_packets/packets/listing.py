"""Query parameters of the list routes: filters, paging (page or limit/offset) and sorting.

Out-of-range numbers are clamped, never an error; unknown enum values are.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated, Literal

from fastapi import Depends, Query

from ..core.bounds import UtcInput
from ..core.numbers import INT32_MAX, clamp
from ..errors import InvalidInput
from ..models import PacketFilter, PacketStatus, PacketVisibility
from ..records.schemas import NO_NUL
from .queries import Window

PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX = 20, 100
LIMIT_DEFAULT, LIMIT_MAX = 50, 500
OFFSET_MAX = 1_000_000_000

SortField = Literal["created_at", "updated_at", "name", "contents_count"]


@dataclass(frozen=True)
class Paging:
    window: Window
    page: int
    page_size: int


MIXED_PAGING = (
    "page through the list one way: page and page_size (page_size 1..100), or limit and "
    "offset (limit 1..500); this request mixes the two"
)


async def paging(
    page: Annotated[
        int | None, Query(description="Page number, from 1 (with page_size; default 1)")
    ] = None,
    page_size: Annotated[
        int | None,
        Query(description=f"Items per page (default {PAGE_SIZE_DEFAULT}, clamped to 1..100)"),
    ] = None,
    limit: Annotated[
        int | None,
        Query(
            description=f"At most this many items (default {LIMIT_DEFAULT}, clamped to 1..500); "
            "with offset, instead of page and page_size"
        ),
    ] = None,
    offset: Annotated[
        int | None, Query(description="Skip this many items first (with limit; default 0)")
    ] = None,
    sort: Annotated[SortField, Query(description="The field to sort by")] = "created_at",
    order: Annotated[
        Literal["asc", "desc"], Query(description="Sort order: newest or largest first by default")
    ] = "desc",
) -> Paging:
    """One way of paging per request: `page`/`page_size`, or `limit`/`offset` (422 if mixed)."""
    if (page is not None or page_size is not None) and (limit is not None or offset is not None):
        raise InvalidInput(MIXED_PAGING)
    if limit is not None or offset is not None:
        size = clamp(LIMIT_DEFAULT if limit is None else limit, 1, LIMIT_MAX)
        skip = clamp(offset or 0, 0, OFFSET_MAX)
        number = skip // size + 1
    else:
        size = clamp(PAGE_SIZE_DEFAULT if page_size is None else page_size, 1, PAGE_SIZE_MAX)
        number = clamp(page or 1, 1, OFFSET_MAX // size)
        skip = (number - 1) * size
    return Paging(Window(size, skip, sort, order == "desc"), number, size)


async def common_filter(
    visibility: Annotated[
        PacketVisibility | None, Query(description="Only packets with this visibility")
    ] = None,
    created_by: Annotated[
        str | None,
        Query(max_length=200, pattern=NO_NUL, description="Only packets made by this actor id"),
    ] = None,
    search: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=NO_NUL,
            description="Text the name or description contains, or an item's title, content "
            "id or attached file name (case-insensitive; % and _ are literal); the items "
            "found are named in each packet's matched_items",
        ),
    ] = None,
    q: Annotated[
        str | None, Query(max_length=200, pattern=NO_NUL, description="Alias of search")
    ] = None,
    has_contents: Annotated[
        bool | None, Query(description="true: only packets with items; false: only empty ones")
    ] = None,
    min_version: Annotated[
        int | None, Query(description="Only packets at this version number or later")
    ] = None,
    created_after: Annotated[
        UtcInput | None,
        Query(
            description="ISO 8601, no offset meaning UTC; write Z, or %2B for a +, in a URL "
            "(2026-01-31T00:00:00Z)"
        ),
    ] = None,
    created_before: Annotated[
        UtcInput | None, Query(description="ISO 8601, as created_after")
    ] = None,
) -> PacketFilter:
    return PacketFilter(
        visibility=visibility,
        created_by=created_by,
        search_text=search or q,
        has_contents=has_contents,
        min_version=None if min_version is None else clamp(min_version, 0, INT32_MAX),
        created_after=created_after,
        created_before=created_before,
    )


CommonFilterDep = Annotated[PacketFilter, Depends(common_filter)]


async def packet_filter(
    criteria: CommonFilterDep,
    status: Annotated[PacketStatus | None, Query(description="Only packets in this status")] = None,
) -> PacketFilter:
    return replace(criteria, status=status)


PagingDep = Annotated[Paging, Depends(paging)]
FilterDep = Annotated[PacketFilter, Depends(packet_filter)]
