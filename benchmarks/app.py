"""The app under test: the standalone host with the shard, plus the stack's floor.

The floors are bare FastAPI routes in the same process, on the shard's own engine: one reads the
same packet row with one indexed SELECT, the other inserts one packet row (into the same table,
so with the same indexes and triggers) in one transaction. No dependencies, no service layer, no
response model: what the stack (ASGI server, FastAPI, SQLAlchemy, the driver, a commit) costs at
the least to read a packet and to write one. Two more for files: one writes a request's body to
a file in the data directory as it arrives (fsynced at the end), the other sends that file
back (Starlette's FileResponse): what the stack costs at the least to receive and send a file.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from sqlalchemy import insert, select

from arkham_shard_packets.core.clock import now_text
from arkham_shard_packets.db.options import READ_ONLY
from arkham_shard_packets.db.tables import packets
from arkham_shard_packets.host.app import HostConfig, create_app

FLOOR_PATH = "/bench/floor/{packet_id}"
FLOOR_INSERT_PATH = "/bench/floor"
FLOOR_FILE_PATH = "/bench/floor-file"
FLOOR_FILE_NAME = "bench-floor-file"
DATABASE_ENV = "PACKETS_BENCH_DATABASE_URL"
DATA_DIR_ENV = "PACKETS_BENCH_DATA_DIR"
API_TOKEN_ENV = "PACKETS_BENCH_API_TOKEN"


def build_app(database_url: str, data_dir: Path, api_token: str | None = None) -> FastAPI:
    config = HostConfig(data_dir=data_dir, database_url=database_url, api_token=api_token)
    app = create_app(config)

    @app.get(FLOOR_PATH, include_in_schema=False)
    async def floor(packet_id: str, request: Request) -> Any:
        engine = request.app.state.packets_shard.services.database.engine
        async with engine.connect() as conn:
            conn = await conn.execution_options(**{READ_ONLY: True})
            row = (
                (await conn.execute(select(packets).where(packets.c.id == packet_id)))
                .mappings()
                .first()
            )
        if row is None:
            return JSONResponse({"detail": "not found"}, status_code=404)
        return dict(row)

    @app.post(FLOOR_INSERT_PATH, include_in_schema=False, status_code=201)
    async def floor_insert(request: Request) -> Any:
        engine = request.app.state.packets_shard.services.database.engine
        now = now_text()
        values = {"id": str(uuid.uuid4()), "name": "Floor packet", "created_at": now}
        async with engine.begin() as conn:
            await conn.execute(insert(packets).values(updated_at=now, **values))
        return values

    @app.put(FLOOR_FILE_PATH, include_in_schema=False)
    async def floor_file_in(request: Request) -> Any:
        out = await asyncio.to_thread(open, data_dir / FLOOR_FILE_NAME, "wb")
        try:
            size = 0
            async for chunk in request.stream():
                size += out.write(chunk)  # from the event loop, as the shard's spool writes
            await asyncio.to_thread(os.fsync, out.fileno())
        finally:
            await asyncio.to_thread(out.close)
        return {"size": size}

    @app.get(FLOOR_FILE_PATH, include_in_schema=False)
    async def floor_file_out() -> Any:
        return FileResponse(data_dir / FLOOR_FILE_NAME)

    return app


def app_from_environment() -> FastAPI:
    """The factory the live uvicorn server is started with."""
    return build_app(
        os.environ[DATABASE_ENV], Path(os.environ[DATA_DIR_ENV]), os.environ.get(API_TOKEN_ENV)
    )
