"""Routes for packets themselves: list, create, read, edit, finalize, archive, count, stats."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Body, Header, Path, Query, Response
from fastapi import status as http

from ..deps import AdminScopeDep, PacketId, ScopeDep, ServicesDep
from ..models import Packet, PacketStatistics, PacketStatus
from ..records.packets import etag_of
from ..records.schemas import PacketOut
from ..routing import PacketsRoute, ProbeRoute, error_responses
from ..version import __version__
from .listing import FilterDep, Paging, PagingDep
from .queries import PacketList
from .schemas import (
    CountOut,
    HealthOut,
    PacketCreate,
    PacketFoundOut,
    PacketPage,
    PacketUpdate,
    StatisticsOut,
    StoreHealthOut,
    TenantMove,
    TenantMoveOut,
)
from .service import PacketDraft

collection = APIRouter(route_class=PacketsRoute, tags=["packets"])
item = APIRouter(route_class=PacketsRoute, tags=["packets"], responses=error_responses(404))

StatusQuery = Annotated[
    PacketStatus | None, Query(description="Only packets in this status (draft, finalized, …)")
]


def page_of(found: PacketList, paging: Paging) -> PacketPage:
    items = [
        PacketFoundOut.model_validate(
            {**vars(packet), "matched_items": [vars(m) for m in found.matched.get(packet.id, [])]}
        )
        for packet in found.packets
    ]
    return PacketPage(
        items=items,
        total=found.total,
        page=paging.page,
        page_size=paging.page_size,
        limit=paging.window.limit,
        offset=paging.window.offset,
    )


async def health(services: ServicesDep) -> HealthOut:
    """A liveness probe: the shard's version, its database's dialect, whether the Frame's
    storage service is there, and which store keeps the files (`local` or `s3`) and whether it
    answers now (an unreachable bucket is reported here, the shard stays up). Needs no user
    and shows no packet data."""
    return HealthOut(
        status="healthy",
        shard="packets",
        version=__version__,
        database=services.database.dialect,
        storage=services.storage is not None,
        store=StoreHealthOut(
            backend=services.files.backend, reachable=await services.files.reachable()
        ),
    )


collection.add_api_route(
    "/health",
    health,
    methods=["GET"],
    response_model=HealthOut,
    summary="Check the shard is up",
    route_class_override=ProbeRoute,
)


@collection.get("/count", response_model=CountOut, summary="Count packets (the badge)")
async def count(services: ServicesDep, scope: ScopeDep, status: StatusQuery = None) -> CountOut:
    """`{"count": n}`: the caller's packets, all or of one status, for the Shell's badge.
    Archived packets count under `archived`. An unknown status is 422."""
    return CountOut(count=await services.queries.count(scope, status))


@collection.get(
    "/stats/overview", response_model=StatisticsOut, summary="Totals by status, type and share"
)
async def statistics(services: ServicesDep, scope: ScopeDep) -> PacketStatistics:
    """Packets by status and visibility, items by content type, active and expired shares,
    versions, and averages, over the caller's packets. Read from running totals: as fast at
    100,000 packets as at ten."""
    return await services.queries.statistics(scope)


@collection.get(
    "/status/{packet_status}", response_model=PacketPage, summary="List packets of one status"
)
async def list_by_status(
    packet_status: Annotated[
        PacketStatus, Path(description="draft, finalized, shared or archived")
    ],
    services: ServicesDep,
    scope: ScopeDep,
    criteria: FilterDep,
    paging: PagingDep,
) -> PacketPage:
    """As `GET /api/packets/` with `status` set from the path; the same filters, sorting and
    paging."""
    found = await services.queries.list(
        scope, replace(criteria, status=packet_status), paging.window
    )
    return page_of(found, paging)


@collection.get("/", response_model=PacketPage, summary="List and search packets")
async def list_packets(
    services: ServicesDep, scope: ScopeDep, criteria: FilterDep, paging: PagingDep
) -> PacketPage:
    """The caller's packets, filtered, sorted and paged; `total` counts every match.

    Page either by `page` and `page_size` (the Shell's way) or by `limit` and `offset`, never
    both in one request (422). Out-of-range numbers are clamped, never an error; an unknown
    enum value is 422. `search` (or `q`) finds the text, case-insensitive, `%` and `_`
    literal, in a packet's name or description or in one of its items' title, content id or
    attached file name; each packet answered then names in `matched_items` the first few items
    it was found by and where (`matched`: `title`, `content_id` or `file_name`). Dates are
    ISO 8601, no offset meaning UTC; in a URL write `Z` or `%2B` for the offset's `+`.
    `/api/packets` without the slash answers the same."""
    return page_of(await services.queries.list(scope, criteria, paging.window), paging)


@collection.post(
    "/", response_model=PacketOut, status_code=http.HTTP_201_CREATED, summary="Create a packet"
)
async def create_packet(body: PacketCreate, services: ServicesDep, scope: ScopeDep) -> Packet:
    """A new draft, recorded as version 1, made by the caller (`created_by`) in the caller's
    tenant; emits `packets.packet.created`. Unknown fields are 422. `POST /api/packets`
    without the slash answers the same (no redirect)."""
    draft = PacketDraft(body.name, body.description, body.visibility, body.metadata)
    return await services.packets.create(scope, draft)


@item.get("/{packet_id}", response_model=PacketOut, summary="Read a packet")
async def get_packet(
    packet_id: PacketId, response: Response, services: ServicesDep, scope: ScopeDep
) -> Packet:
    """The packet with its counters and checksum, and an `ETag` header to send back as
    `If-Match` when editing. 404 for a packet the caller can't see."""
    packet = await services.packets.get(scope, packet_id)
    response.headers["ETag"] = etag_of(packet)
    return packet


@item.put(
    "/{packet_id}",
    response_model=PacketOut,
    responses=error_responses(409, 412),
    summary="Edit a draft's fields",
)
async def update_packet(
    packet_id: PacketId,
    body: PacketUpdate,
    response: Response,
    services: ServicesDep,
    scope: ScopeDep,
    if_match: Annotated[str | None, Header(description="ETag from a GET; stale is 412")] = None,
) -> Packet:
    """Changes only the fields sent (`""` clears the description); a draft only (409
    otherwise). With `If-Match` (the `ETag` of a GET, a list of them, or `*`) a packet changed
    since is 412, nothing written. Emits `packets.packet.updated` with the fields changed."""
    packet = await services.packets.update(scope, packet_id, body.changes(), if_match)
    response.headers["ETag"] = etag_of(packet)
    return packet


@item.delete(
    "/{packet_id}",
    status_code=http.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(409),
    summary="Archive a packet (no body)",
)
async def delete_packet(packet_id: PacketId, services: ServicesDep, scope: ScopeDep) -> None:
    """Packets are never destroyed: DELETE archives, as the Frame's Archive button expects,
    and answers 204. `POST /{packet_id}/archive` does the same and answers the packet. An
    archived packet is 409."""
    await services.packets.archive(scope, packet_id)


@item.post(
    "/{packet_id}/archive",
    response_model=PacketOut,
    responses=error_responses(409),
    summary="Archive a packet",
)
async def archive_packet(packet_id: PacketId, services: ServicesDep, scope: ScopeDep) -> Packet:
    """Any status but archived (409) becomes archived; contents, versions, shares and
    exports stay readable. Emits `packets.packet.updated` with the status change."""
    return await services.packets.archive(scope, packet_id)


@item.post(
    "/{packet_id}/finalize",
    response_model=PacketOut,
    responses=error_responses(409, 503),
    summary="Seal and lock a draft",
)
async def finalize_packet(packet_id: PacketId, services: ServicesDep, scope: ScopeDep) -> Packet:
    """A draft only (409 otherwise): computes the checksum (recipe 1: fields, every item,
    its data's and its file's SHA-256), signs the seal statement with the installation's key
    (503 when the key can't be read), records the sealed state as the next version and locks
    the packet. Emits `packets.packet.finalized` with the version and checksum."""
    return await services.packets.finalize(scope, packet_id)


@item.post(
    "/{packet_id}/tenant",
    response_model=TenantMoveOut,
    responses=error_responses(409),
    summary="Move a packet of no tenant into a tenant (admins)",
)
async def move_to_tenant(
    packet_id: PacketId,
    services: ServicesDep,
    scope: AdminScopeDep,
    body: Annotated[
        TenantMove | None,
        Body(examples=[{"tenant_id": "7c0f3a0e-0000-4000-8000-00000000000a"}, {}]),
    ] = None,
) -> TenantMoveOut:
    """For a Frame `admin` only (401 without a user, 403 for another role). Moves a packet that
    belongs to no tenant (made without a token: the Shell's Packets page, or before Frame users
    were resolved), with its items, versions, seals, shares, comments, access logs, exports and
    custody log, into `tenant_id` (default: the admin's own tenant), in one transaction. The
    move is the `moved_to_tenant` entry of its custody log, by the admin; emits
    `packets.packet.updated` with `changes: ["tenant"]`. 404 for no such packet, 409 for one
    that has a tenant already. Its events published before the move stay where they were."""
    wanted = None if body is None or body.tenant_id is None else str(body.tenant_id)
    moved = await services.tenancy.move(scope, packet_id, wanted)
    return TenantMoveOut(
        packet=PacketOut.model_validate(moved.packet),
        tenant_id=moved.tenant_id,
        moved_by=scope.actor,
    )
