"""Rows to domain records, and the two ways a service takes hold of a packet."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, select

from ..core.clock import to_text
from ..core.unit_of_work import UnitOfWork
from ..db.scope import owned_by_parameters, tenant_parameters, tenant_shape
from ..db.tables import packet_contents, packets
from ..errors import PacketNotFound
from ..models import (
    AttachedFile,
    ContentType,
    Packet,
    PacketContent,
    PacketStatus,
    PacketVisibility,
)

RowLike = Mapping[Any, Any]
# An entity tag in an If-Match list: strong `"…"` or weak `W/"…"` (RFC 9110 8.8.3).
ENTITY_TAG = re.compile(r'\s*((?:W/)?"[^"]*")\s*(?:,|$)')


def packet_from_row(row: RowLike) -> Packet:
    return Packet(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        status=PacketStatus(row["status"]),
        visibility=PacketVisibility(row["visibility"]),
        created_by=row["created_by"],
        created_at=datetime.fromisoformat(row["created_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
        version=row["version"],
        contents_count=row["contents_count"],
        size_bytes=row["size_bytes"],
        checksum=row["checksum"],
        metadata=json.loads(row["metadata"] or "{}"),
    )


def content_from_row(row: RowLike) -> PacketContent:
    return PacketContent(
        id=row["id"],
        packet_id=row["packet_id"],
        content_type=ContentType(row["content_type"]),
        content_id=row["content_id"],
        content_title=row["content_title"] or "",
        added_at=datetime.fromisoformat(row["added_at"]),
        added_by=row["added_by"],
        order=row["order_num"],
        data=json.loads(row["data"]) if row["data"] is not None else None,
        file=attached_file(row),
    )


def attached_file(row: RowLike) -> AttachedFile | None:
    if row.get("file_sha256") is None:
        return None
    return AttachedFile(
        name=row["file_name"],
        media_type=row["file_media_type"],
        size=int(row["file_size"]),
        sha256=row["file_sha256"],
    )


def stored_size(row: RowLike) -> int:
    """What one content entry adds to its packet's `size_bytes`."""
    data = row.get("data")
    return (len(data.encode("utf-8")) if data else 0) + int(row.get("file_size") or 0)


LOAD = "load"


@lru_cache(maxsize=8)
def _loading(shape: tuple[bool, ...]) -> Any:
    """The packet's row by its id (`load_id`) among the scope's, built once for each shape."""
    owned = owned_by_parameters(packets, LOAD, shape)
    return select(packets).where(owned, packets.c.id == bindparam(f"{LOAD}_id"))


async def load_packet_row(work: UnitOfWork, packet_id: str) -> RowLike:
    """The packet's row; the work enters its tenant (UnitOfWork.enter), as every way of taking
    hold of a packet here does."""
    tenants = work.scope.tenants
    parameters = tenant_parameters(tenants, LOAD) | {f"{LOAD}_id": packet_id}
    row = await work.first(_loading(tenant_shape(tenants)), parameters)
    if row is None:
        raise PacketNotFound(packet_id)
    work.enter(row["tenant_id"])
    return row


async def load_packet(work: UnitOfWork, packet_id: str) -> Packet:
    return packet_from_row(await load_packet_row(work, packet_id))


def if_match_allows(header: str, etag: str) -> bool:
    """RFC 9110 13.1.1: `*`, or a list of entity tags one of which is the current one, by
    strong comparison (a weak tag never matches)."""
    value = header.strip()
    return value == "*" or etag in ENTITY_TAG.findall(value)


def etag_of(packet: Packet) -> str:
    """A strong validator that changes with every committed change to the packet."""
    stamp = f"{packet.id}|{to_text(packet.updated_at)}|{packet.status.value}|{packet.version}"
    return '"' + hashlib.sha256(stamp.encode()).hexdigest()[:32] + '"'


async def load_contents(
    work: UnitOfWork, packet_id: str, limit: int | None = None, offset: int = 0
) -> list[PacketContent]:
    """The packet's items in their order, those of one `order` in the order they were added;
    a slice of them when `limit` is given (read in the order of idx_contents_order)."""
    statement = (
        work.scope.select(packet_contents)
        .where(packet_contents.c.packet_id == packet_id)
        .order_by(
            packet_contents.c.order_num,
            packet_contents.c.added_at,
            packet_contents.c.id,
        )
        .limit(limit)
        .offset(offset or None)
    )
    rows = (await work.conn.execute(statement)).mappings().all()
    return [content_from_row(row) for row in rows]
