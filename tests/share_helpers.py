"""Helpers for the sharing tests: a packet ready to share, a share, and database look-ups."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
from sqlalchemy import select

from arkham_shard_packets.db.tables import packet_shares, share_access_log

from .conftest import add_item, make_packet

PASSWORD_HEADER = "X-Share-Password"


def in_seconds(seconds: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat()


async def finalized_packet(client: httpx.AsyncClient, name: str = "Harbor leak") -> Any:
    packet = await make_packet(client, name, description="Shipping records")
    await add_item(client, packet["id"], "doc-2", content_title="Second", order=2)
    await add_item(client, packet["id"], "ent-1", "entity", content_title="First", order=1)
    response = await client.post(f"/api/packets/{packet['id']}/finalize")
    assert response.status_code == 200, response.text
    return response.json()


async def share(
    client: httpx.AsyncClient, packet_id: str, shared_with: str = "public", **body: Any
) -> Any:
    response = await client.post(
        f"/api/packets/{packet_id}/share", json={"shared_with": shared_with, **body}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def status_of(client: httpx.AsyncClient, packet_id: str) -> str:
    status: str = (await client.get(f"/api/packets/{packet_id}")).json()["status"]
    return status


async def share_row(engine: Any, share_id: str) -> Any:
    async with engine.connect() as conn:
        return (
            (await conn.execute(select(packet_shares).where(packet_shares.c.id == share_id)))
            .mappings()
            .one()
        )


async def access_actions(engine: Any, share_id: str) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(share_access_log.c.action)
            .where(share_access_log.c.share_id == share_id)
            .order_by(share_access_log.c.accessed_at)
        )
        return [action for (action,) in rows.all()]
