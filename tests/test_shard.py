"""Loading the shard the way the real Arkham Frame does, through a stand-in built only from
FRAME_CONTRACT.md: entry-point discovery, a database service that offers nothing but
`config.database_url` and the helpers, the Frame's event-bus API, and no storage service."""

from __future__ import annotations

import contextlib
import fnmatch
from collections.abc import AsyncIterator
from importlib.metadata import entry_points
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import inspect, text

from arkham_shard_packets import PacketsShard

from .conftest import POSTGRES_URL, reset_postgres


class ContractDatabase:
    def __init__(self, url: str) -> None:
        self.config = SimpleNamespace(database_url=url)

    def _engine(self) -> Any:
        return create_sync_engine(self.config.database_url)

    async def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        with self._engine().begin() as conn:
            conn.execute(text(sql), params or {})

    async def fetch_one(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        with self._engine().connect() as conn:
            return conn.execute(text(sql), params or {}).mappings().first()

    async def fetch_all(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        with self._engine().connect() as conn:
            return conn.execute(text(sql), params or {}).mappings().all()


class ContractBus:
    def __init__(self) -> None:
        self.subscribers: list[tuple[str, Any]] = []

    async def emit(self, event_type: str, payload: dict[str, Any], source: str) -> None:
        for pattern, callback in self.subscribers:
            if fnmatch.fnmatch(event_type, pattern):
                # the Frame logs and swallows a subscriber's exception
                with contextlib.suppress(Exception):
                    await callback({"event_type": event_type, "payload": payload, "source": source})

    async def subscribe(self, pattern: str, callback: Any) -> None:
        self.subscribers.append((pattern, callback))


class ContractFrame:
    def __init__(self, services: dict[str, Any]) -> None:
        self.app = FastAPI()
        self.shards: dict[str, Any] = {}
        self._services = services
        self.db = services.get("database")

    def get_service(self, name: str) -> Any:
        return self._services.get("database" if name == "db" else name)


def plain_url(tmp_path: Path) -> str:
    if POSTGRES_URL:
        return "postgresql://" + POSTGRES_URL.split("://", 1)[1]
    return f"sqlite:///{tmp_path / 'frame.db'}"


@pytest.fixture
async def frame(tmp_path: Path) -> AsyncIterator[ContractFrame]:
    url = plain_url(tmp_path)
    if POSTGRES_URL:
        await reset_postgres(url)
    frame = ContractFrame({"database": ContractDatabase(url), "events": ContractBus()})
    yield frame
    for shard in frame.shards.values():
        await shard.shutdown()


async def load_like_the_frame(frame: ContractFrame) -> Any:
    (point,) = [p for p in entry_points(group="arkham.shards") if p.name == "packets"]
    shard = point.load()()
    await shard.initialize(frame)
    router = shard.get_routes() or shard.get_api_router()
    # As the Frame's main.py does: the router as is (it carries its prefix), tagged by name.
    frame.app.include_router(router, tags=[point.name.capitalize()])
    frame.shards[point.name] = shard
    return shard


async def test_frame_loads_the_shard_and_drives_a_packet(frame: ContractFrame) -> None:
    received: list[dict[str, Any]] = []

    async def listener(event: dict[str, Any]) -> None:
        received.append(event)

    async def broken(event: dict[str, Any]) -> None:
        raise RuntimeError("a subscriber that fails must not hurt the shard")

    await frame.get_service("events").subscribe("packets.*", broken)
    await frame.get_service("events").subscribe("packets.*", listener)
    shard = await load_like_the_frame(frame)
    assert isinstance(shard, PacketsShard)
    assert shard.manifest is not None
    assert shard.manifest.to_dict()["navigation"]["route"] == "/packets"

    transport = httpx.ASGITransport(app=frame.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://frame") as http:
        assert (await http.get("/api/packets/health")).json()["storage"] is False
        packet = (await http.post("/api/packets/", json={"name": "Via the Frame"})).json()
        pid = packet["id"]
        item = await http.post(
            f"/api/packets/{pid}/contents",
            json={"content_type": "document", "content_id": "d1", "content_title": "t", "order": 0},
        )
        assert item.status_code == 201
        assert (await http.post(f"/api/packets/{pid}/finalize")).json()["status"] == "finalized"
        assert (await http.delete(f"/api/packets/{pid}")).status_code == 204
        assert (await http.get(f"/api/packets/{pid}")).json()["status"] == "archived"
        listing = (await http.get("/api/packets/?page=1&page_size=10")).json()
        assert listing["total"] == 1
    assert shard.services is not None
    assert await shard.services.relay.settle()  # events reach the bus after the answer

    assert [e["event_type"] for e in received] == [
        "packets.packet.created",
        "packets.content.added",
        "packets.packet.finalized",
        "packets.packet.updated",
    ]
    assert all(e["source"] == "packets" for e in received)


async def test_the_collection_answers_without_its_slash_in_the_frame(frame: ContractFrame) -> None:
    await load_like_the_frame(frame)
    transport = httpx.ASGITransport(app=frame.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://frame") as http:
        created = await http.post("/api/packets", json={"name": "No slash"})
        assert created.status_code == 201, created.text
        listed = await http.get("/api/packets?page=1&page_size=10")
        assert listed.status_code == 200
        assert [p["name"] for p in listed.json()["items"]] == ["No slash"]
        refused = await http.patch("/api/packets", json={})
        assert refused.status_code == 405
        assert refused.headers["allow"] == "GET, POST"
    paths = frame.app.openapi()["paths"]
    assert "/api/packets/" in paths and "/api/packets" not in paths


async def test_the_schema_is_created_idempotently(frame: ContractFrame) -> None:
    shard = await load_like_the_frame(frame)
    await shard.shutdown()
    again = PacketsShard()
    await again.initialize(frame)
    engine = again.services.database.engine  # type: ignore[union-attr]
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        indexes = await conn.run_sync(
            lambda c: {i["name"] for i in inspect(c).get_indexes("arkham_packets")}
        )
    assert {
        "arkham_packets",
        "arkham_packet_contents",
        "arkham_packet_shares",
        "arkham_packet_versions",
    } <= tables
    assert {"idx_packets_status", "idx_packets_creator"} <= indexes
    await again.shutdown()


@pytest.mark.parametrize("missing", ["database", "events"])
async def test_a_missing_required_service_is_named(tmp_path: Path, missing: str) -> None:
    services = {
        "database": ContractDatabase(f"sqlite:///{tmp_path / 'x.db'}"),
        "events": ContractBus(),
    }
    del services[missing]
    shard = PacketsShard()
    with pytest.raises(Exception, match=f"'{missing}'"):
        await shard.initialize(ContractFrame(services))


async def test_environment_url_wins_over_the_frames(
    frame: ContractFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = tmp_path / "own.db"
    monkeypatch.setenv("ARKHAM_PACKETS_DATABASE_URL", f"sqlite:///{own}")
    shard = await load_like_the_frame(frame)
    assert shard.services.database.engine.url.database == str(own)
    assert own.exists()


async def test_shutdown_releases_the_engine(frame: ContractFrame) -> None:
    shard = await load_like_the_frame(frame)
    transport = httpx.ASGITransport(app=frame.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://frame") as http:
        assert (await http.get("/api/packets/count")).status_code == 200
        pool = shard.services.database.engine.pool
        await shard.shutdown()
        assert pool.checkedout() == 0
        response = await http.get("/api/packets/count")
    assert response.status_code == 503
    assert "not initialized" in response.json()["detail"]
    frame.shards.clear()


def test_routes_carry_the_prefix_without_initialize() -> None:
    app = FastAPI()
    app.include_router(PacketsShard().get_routes())
    paths = set(app.openapi()["paths"])
    assert "/api/packets/" in paths
    assert "/api/packets/{packet_id}/finalize" in paths
    assert all(path.startswith("/api/packets") for path in paths)


def test_shard_attributes() -> None:
    shard = PacketsShard()
    assert shard.name == "packets"
    assert shard.manifest is not None
    assert shard.version == shard.manifest.version
    assert shard.frame is None
    assert shard.get_tenant_id_or_none() is None
