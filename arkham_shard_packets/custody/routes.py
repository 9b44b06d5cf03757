"""GET /{id}/custody: a packet's custody log, in order, with its head and whether it checks."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query

from ..deps import PacketId, ScopeDep, ServicesDep
from ..routing import PacketsRoute, error_responses
from .schemas import CustodyOut, SupersededOut

router = APIRouter(route_class=PacketsRoute, tags=["custody"], responses=error_responses(404))

LOG_PAGE_DEFAULT, LOG_PAGE_MAX = 1_000, 10_000


@router.get(
    "/{packet_id}/custody", response_model=CustodyOut, summary="Read a packet's custody log"
)
async def custody_log(
    packet_id: PacketId,
    services: ServicesDep,
    scope: ScopeDep,
    limit: Annotated[
        int,
        Query(
            ge=1,
            le=LOG_PAGE_MAX,
            description=f"At most this many entries (default {LOG_PAGE_DEFAULT})",
        ),
    ] = LOG_PAGE_DEFAULT,
    offset: Annotated[
        int, Query(ge=0, le=2**31 - 1, description="Entries to skip from the first")
    ] = 0,
) -> CustodyOut:
    """Every entry records an event of the packet's life, by whom and when, and the SHA-256
    of the entry before it: a changed, removed or reordered entry breaks the chain. The answer
    gives the head hash, the length, whether the chain checks (`intact`, with `problems`) and
    whether it starts at the packet's creation; 404 for a packet the caller can't see.
    `covered_entries` says which entries the seal's signature covers (1 to that number), and
    `unproven_entries` which are an imported bundle's own account, not proven; the others
    were recorded here. `entries` are `limit` of them from `offset` (the chain is checked
    whole either way)."""
    report = await services.custody.log(scope, packet_id)
    chain, coverage = report.evidence.chain, report.coverage
    return CustodyOut(
        packet_id=packet_id,
        entries=report.shown(limit, offset),
        length=chain.length,
        limit=limit,
        offset=offset,
        head=chain.head,
        intact=chain.intact,
        from_creation=chain.from_creation,
        problems=report.problems,
        superseded=[SupersededOut.model_validate(s.__dict__) for s in report.superseded],
        covered_entries=coverage.covered,
        covered_by=coverage.signed_by,
        unproven_entries=None if coverage.unproven is None else asdict(coverage.unproven),
    )
