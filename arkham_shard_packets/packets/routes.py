"""Routes for packets themselves: list, create, read, edit, finalize, archive, count, stats."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Header, Response
from fastapi import status as http

from ..core.records import etag_of
from ..core.schemas import PacketOut
from ..deps import PacketId, ScopeDep, ServicesDep
from ..models import Packet, PacketStatistics, PacketStatus
from ..routing import PacketsRoute, error_responses
from ..version import __version__
from .listing import FilterDep, Paging, PagingDep
from .schemas import (
    CountOut,
    HealthOut,
    PacketCreate,
    PacketPage,
    PacketUpdate,
    StatisticsOut,
)
from .service import PacketDraft

collection = APIRouter(route_class=PacketsRoute)
item = APIRouter(route_class=PacketsRoute, responses=error_responses(404))


def page_of(items: list[Packet], total: int, paging: Paging) -> PacketPage:
    return PacketPage(
        items=[PacketOut.model_validate(packet) for packet in items],
        total=total,
        page=paging.page,
        page_size=paging.page_size,
        limit=paging.window.limit,
        offset=paging.window.offset,
    )


@collection.get("/health", response_model=HealthOut)
async def health(services: ServicesDep) -> HealthOut:
    return HealthOut(
        status="healthy",
        shard="packets",
        version=__version__,
        database=services.database.dialect,
        storage=services.storage is not None,
    )


@collection.get("/count", response_model=CountOut)
async def count(
    services: ServicesDep, scope: ScopeDep, status: PacketStatus | None = None
) -> CountOut:
    return CountOut(count=await services.queries.count(scope, status))


@collection.get("/stats/overview", response_model=StatisticsOut)
async def statistics(services: ServicesDep, scope: ScopeDep) -> PacketStatistics:
    return await services.queries.statistics(scope)


@collection.get("/status/{packet_status}", response_model=PacketPage)
async def list_by_status(
    packet_status: PacketStatus,
    services: ServicesDep,
    scope: ScopeDep,
    criteria: FilterDep,
    paging: PagingDep,
) -> PacketPage:
    items, total = await services.queries.list(
        scope, replace(criteria, status=packet_status), paging.window
    )
    return page_of(items, total, paging)


@collection.get("/", response_model=PacketPage)
async def list_packets(
    services: ServicesDep, scope: ScopeDep, criteria: FilterDep, paging: PagingDep
) -> PacketPage:
    items, total = await services.queries.list(scope, criteria, paging.window)
    return page_of(items, total, paging)


@collection.post("/", response_model=PacketOut, status_code=http.HTTP_201_CREATED)
async def create_packet(body: PacketCreate, services: ServicesDep, scope: ScopeDep) -> Packet:
    draft = PacketDraft(body.name, body.description, body.visibility, body.metadata)
    return await services.packets.create(scope, draft)


@item.get("/{packet_id}", response_model=PacketOut)
async def get_packet(
    packet_id: PacketId, response: Response, services: ServicesDep, scope: ScopeDep
) -> Packet:
    packet = await services.packets.get(scope, packet_id)
    response.headers["ETag"] = etag_of(packet)
    return packet


@item.put("/{packet_id}", response_model=PacketOut, responses=error_responses(409, 412))
async def update_packet(
    packet_id: PacketId,
    body: PacketUpdate,
    response: Response,
    services: ServicesDep,
    scope: ScopeDep,
    if_match: Annotated[str | None, Header(description="ETag from a GET; stale is 412")] = None,
) -> Packet:
    packet = await services.packets.update(scope, packet_id, body.changes(), if_match)
    response.headers["ETag"] = etag_of(packet)
    return packet


@item.delete(
    "/{packet_id}",
    status_code=http.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(409),
)
async def delete_packet(packet_id: PacketId, services: ServicesDep, scope: ScopeDep) -> None:
    """Packets are never destroyed: DELETE archives, as the Frame's Archive button expects.
    `POST /{packet_id}/archive` does the same and answers the packet."""
    await services.packets.archive(scope, packet_id)


@item.post("/{packet_id}/archive", response_model=PacketOut, responses=error_responses(409))
async def archive_packet(packet_id: PacketId, services: ServicesDep, scope: ScopeDep) -> Packet:
    return await services.packets.archive(scope, packet_id)


@item.post("/{packet_id}/finalize", response_model=PacketOut, responses=error_responses(409, 503))
async def finalize_packet(packet_id: PacketId, services: ServicesDep, scope: ScopeDep) -> Packet:
    """Seals with the checksum and a signature by the installation's key (503 when the key
    can't be read)."""
    return await services.packets.finalize(scope, packet_id)
