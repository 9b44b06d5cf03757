"""Every test drives the real host app over HTTP, on a fresh database.

SQLite by default (a new file per test); PostgreSQL when PACKETS_TEST_DATABASE_URL is set,
with the shard's tables dropped before each test.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from arkham_shard_packets.db.engine import create_engine
from arkham_shard_packets.db.revision import VERSION_TABLE
from arkham_shard_packets.db.tables import metadata
from arkham_shard_packets.frame.fallback import current_tenant_id
from arkham_shard_packets.host.app import HostConfig, create_app

POSTGRES_URL = os.environ.get("PACKETS_TEST_DATABASE_URL")
TENANT_HEADER = "x-test-tenant"
USER_HEADER = "x-test-user"


class FakeAuth:
    """Stands in for the Frame's auth and tenant middleware: the user and tenant come from
    test headers, as the Frame would take them from a JWT."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        user = headers.get(USER_HEADER)
        if user:
            scope.setdefault("state", {})["user"] = {"id": user}
        token = current_tenant_id.set(headers.get(TENANT_HEADER))
        try:
            await self.app(scope, receive, send)
        finally:
            current_tenant_id.reset(token)


async def reset_postgres(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.execute(text(f"DROP TABLE IF EXISTS {VERSION_TABLE}"))
    await engine.dispose()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return POSTGRES_URL or f"sqlite:///{tmp_path / 'packets.db'}"


@pytest.fixture
async def app(tmp_path: Path, database_url: str) -> AsyncIterator[FastAPI]:
    if POSTGRES_URL:
        await reset_postgres(database_url)
    application = create_app(HostConfig(data_dir=tmp_path / "data", database_url=database_url))
    application.add_middleware(FakeAuth)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
def engine(app: FastAPI) -> Any:
    """The shard's own engine, for checking (or tampering with) what is really stored."""
    return app.state.packets_shard.services.database.engine


async def packet_events(client: httpx.AsyncClient, event_type: str | None = None) -> list[Any]:
    response = await client.get("/api/events/", params={"source": "packets", "limit": 1000})
    assert response.status_code == 200
    events = response.json()["events"]
    return [e for e in events if event_type is None or e["event_type"] == event_type]


async def make_packet(client: httpx.AsyncClient, name: str = "Case file", **fields: Any) -> Any:
    response = await client.post("/api/packets/", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def add_item(
    client: httpx.AsyncClient,
    packet_id: str,
    content_id: str = "doc-1",
    content_type: str = "document",
    **fields: Any,
) -> Any:
    response = await client.post(
        f"/api/packets/{packet_id}/contents",
        json={"content_type": content_type, "content_id": content_id, **fields},
    )
    assert response.status_code == 201, response.text
    return response.json()
