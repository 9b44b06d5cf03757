"""Events are never lost: outbox in the change's transaction, ordered delivery, retries, feed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from arkham_shard_packets.db.tables import outbox
from arkham_shard_packets.host.app import HostConfig, create_app

from .conftest import add_item, make_packet, packet_events, settle
from .frame_users import Users


class FlakyBus:
    """Wraps the host's bus; refuses every emit while `down` is set."""

    def __init__(self, bus: Any) -> None:
        self.bus = bus
        self.down = False
        self.refused = 0

    async def emit(self, event_type: str, payload: dict[str, Any], source: str = "") -> None:
        if self.down:
            self.refused += 1
            raise ConnectionError("bus unavailable")
        await self.bus.emit(event_type, payload, source=source)


def flaky(app: FastAPI) -> FlakyBus:
    relay = app.state.packets_shard.services.relay
    wrapper = FlakyBus(relay.bus)
    relay.bus = wrapper
    return wrapper


async def outbox_rows(engine: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(outbox).order_by(outbox.c.sequence))).mappings())


async def test_every_change_is_in_the_outbox_in_order(
    client: httpx.AsyncClient, engine: Any
) -> None:
    packet = await make_packet(client)
    await add_item(client, packet["id"])
    await client.post(f"/api/packets/{packet['id']}/finalize")
    await settle(client)
    rows = await outbox_rows(engine)
    assert [r["event_type"] for r in rows] == [
        "packets.packet.created",
        "packets.content.added",
        "packets.packet.finalized",
    ]
    assert [r["position"] for r in rows] == [1, 2, 3]
    assert all(r["delivered_at"] for r in rows)


async def test_a_refused_change_writes_no_event(client: httpx.AsyncClient, engine: Any) -> None:
    packet = await make_packet(client)
    await client.post(f"/api/packets/{packet['id']}/finalize")
    before = len(await outbox_rows(engine))
    refused = await client.post(
        f"/api/packets/{packet['id']}/contents", json={"content_type": "entity", "content_id": "e"}
    )
    assert refused.status_code == 409
    assert len(await outbox_rows(engine)) == before


async def test_events_wait_for_the_bus_and_arrive_in_order(
    app: FastAPI, client: httpx.AsyncClient, engine: Any
) -> None:
    bus = flaky(app)
    bus.down = True
    first = await make_packet(client, "first")
    second = await make_packet(client, "second")
    assert await packet_events(client) == []
    assert bus.refused >= 1
    async with engine.connect() as conn:
        pending = select(func.count()).where(outbox.c.delivered_at.is_(None))
        assert (await conn.execute(pending)).scalar_one() == 2

    bus.down = False
    await make_packet(client, "third")  # the next commit delivers the backlog first
    delivered = await packet_events(client, "packets.packet.created")
    assert [e["payload"]["name"] for e in reversed(delivered)] == ["first", "second", "third"]
    assert {first["id"], second["id"]} <= {e["payload"]["packet_id"] for e in delivered}


@pytest.fixture
async def quick_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARKHAM_PACKETS_OUTBOX_RETRY_SECONDS", "0.05")


async def test_the_background_loop_retries(
    quick_retry: None, app: FastAPI, client: httpx.AsyncClient
) -> None:
    bus = flaky(app)
    bus.down = True
    await make_packet(client, "later")
    bus.down = False
    for _ in range(100):
        if await packet_events(client):
            break
        await asyncio.sleep(0.05)
    assert [e["payload"]["name"] for e in await packet_events(client)] == ["later"]


@asynccontextmanager
async def restarted(tmp_path: Path, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(HostConfig(data_dir=tmp_path / "data", database_url=database_url))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        yield http


async def test_pending_events_survive_a_restart(
    app: FastAPI, client: httpx.AsyncClient, tmp_path: Path, database_url: str
) -> None:
    bus = flaky(app)
    bus.down = True
    packet = await make_packet(client, "before the crash")
    await app.state.packets_shard.shutdown()

    async with restarted(tmp_path / "again", database_url) as second:
        for _ in range(100):
            created = await packet_events(second, "packets.packet.created")
            if created:
                break
            await asyncio.sleep(0.05)
    assert [e["payload"]["packet_id"] for e in created] == [packet["id"]]


async def test_the_feed_serves_every_change_without_gaps(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client)
    for i in range(5):
        await add_item(client, packet["id"], f"d{i}")
    seen: list[dict[str, Any]] = []
    after = 0
    while True:
        page = (await client.get("/api/packets/events", params={"after": after, "limit": 2})).json()
        if not page["events"]:
            break
        seen += page["events"]
        after = page["next_after"]
    assert [e["event_type"] for e in seen] == ["packets.packet.created"] + [
        "packets.content.added"
    ] * 5
    positions = [e["sequence"] for e in seen]  # the wire's name for the feed position
    assert positions == sorted(positions) and len(set(positions)) == 6
    assert seen[1]["payload"]["content_id"] == "d0"
    assert all(e["source"] == "packets" for e in seen)
    tail = (await client.get("/api/packets/events", params={"after": after})).json()
    assert tail == {"events": [], "count": 0, "next_after": after}


async def test_the_feed_is_tenant_scoped(client: httpx.AsyncClient, users: Users) -> None:
    tenant_a = users.headers("7c0f3a0e-0000-4000-8000-00000000000a")
    tenant_b = users.headers("7c0f3a0e-0000-4000-8000-00000000000b")
    await client.post("/api/packets/", json={"name": "a"}, headers=tenant_a)
    await client.post("/api/packets/", json={"name": "b"}, headers=tenant_b)
    feed = (await client.get("/api/packets/events", headers=tenant_a)).json()
    assert [e["payload"]["name"] for e in feed["events"]] == ["a"]
