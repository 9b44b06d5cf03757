"""Reads through share links recorded after the answer (sharing/uses.py): counts stay exact
across processes, and a host that stops writes what it queued."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from arkham_shard_packets.db.tables import share_access_log
from arkham_shard_packets.host.app import HostConfig, create_app

from .conftest import settle
from .share_helpers import finalized_packet, share, share_row

READS = 30


async def logged(engine: Any, share_id: str) -> tuple[int, str | None]:
    async with engine.connect() as conn:
        statement = select(func.count(), func.max(share_access_log.c.accessed_at)).where(
            share_access_log.c.share_id == share_id
        )
        count, latest = (await conn.execute(statement)).one()
        return int(count), latest


async def test_reads_on_two_processes_are_counted_exactly(
    client: httpx.AsyncClient, engine: Any, tmp_path: Path, database_url: str
) -> None:
    packet = await finalized_packet(client)
    created = await share(client, packet["id"], permissions="comment")
    url = f"/api/packets/shared/{created['access_token']}"
    # a second worker process: the same database and data directory (with one of its own, it
    # would refuse to start: tests/test_one_key.py)
    other = create_app(HostConfig(data_dir=tmp_path / "data", database_url=database_url))
    async with other.router.lifespan_context(other):
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://second") as second:
            answers = await asyncio.gather(
                *(http.get(url) for http in (client, second) for _ in range(READS)),
                *(http.get(f"{url}/view") for http in (client, second)),
                client.post(f"{url}/comments", json={"author": "a", "body": "b"}),
            )
        assert {answer.status_code for answer in answers} == {200, 201}
    # The second host stopped without being waited for: its shutdown wrote what it queued.
    await settle(client)
    row = await share_row(engine, created["id"])
    count, latest = await logged(engine, created["id"])
    assert row["access_count"] == count == 2 * READS + 3
    assert row["last_accessed_at"] == latest
    (listed,) = (await client.get(f"/api/packets/{packet['id']}/shares")).json()
    assert listed["access_count"] == 2 * READS + 3


async def test_the_owner_sees_every_read_answered_before(client: httpx.AsyncClient) -> None:
    packet = await finalized_packet(client)
    created = await share(client, packet["id"])
    url = f"/api/packets/shared/{created['access_token']}"
    for n in range(3):
        assert (await client.get(url)).status_code == 200
        log = await client.get(f"/api/packets/{packet['id']}/shares/{created['id']}/access")
        assert log.json()["total"] == n + 1
