"""Query parameters of the list routes: filters, paging (page or limit/offset) and sorting.

Out-of-range numbers are clamped, never an error; unknown enum values are.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated, Literal

from fastapi import Depends, Query

from ..core.bounds import UtcInput
from ..core.numbers import INT32_MAX, clamp
from ..core.schemas import NO_NUL
from ..models import PacketFilter, PacketStatus, PacketVisibility
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


async def paging(
    page: int | None = None,
    page_size: int | None = None,
    limit: int | None = None,
    offset: int | None = None,
    sort: SortField = "created_at",
    order: Literal["asc", "desc"] = "desc",
) -> Paging:
    """`page`/`page_size` win; `limit`/`offset` apply when only they are given."""
    if page is None and page_size is None and (limit is not None or offset is not None):
        size = clamp(LIMIT_DEFAULT if limit is None else limit, 1, LIMIT_MAX)
        skip = clamp(offset or 0, 0, OFFSET_MAX)
        number = skip // size + 1
    else:
        size = clamp(PAGE_SIZE_DEFAULT if page_size is None else page_size, 1, PAGE_SIZE_MAX)
        number = clamp(page or 1, 1, OFFSET_MAX // size)
        skip = (number - 1) * size
    return Paging(Window(size, skip, sort, order == "desc"), number, size)


async def common_filter(
    visibility: PacketVisibility | None = None,
    created_by: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
    search: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
    q: Annotated[
        str | None, Query(max_length=200, pattern=NO_NUL, description="Alias of search")
    ] = None,
    has_contents: bool | None = None,
    min_version: int | None = None,
    created_after: UtcInput | None = None,
    created_before: UtcInput | None = None,
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
    criteria: CommonFilterDep, status: PacketStatus | None = None
) -> PacketFilter:
    return replace(criteria, status=status)


PagingDep = Annotated[Paging, Depends(paging)]
FilterDep = Annotated[PacketFilter, Depends(packet_filter)]
