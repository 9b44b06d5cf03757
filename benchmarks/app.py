"""The app under test: the standalone host with the shard, plus the stack's floor.

The floor is a bare FastAPI route in the same process that reads the same packet row with one
indexed SELECT on the shard's own engine: no dependencies, no service layer, no response model.
It is what the stack (ASGI server, FastAPI, SQLAlchemy, the driver) costs at the least.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from arkham_shard_packets.db.session import READ_ONLY
from arkham_shard_packets.db.tables import packets
from arkham_shard_packets.host.app import HostConfig, create_app

FLOOR_PATH = "/bench/floor/{packet_id}"
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

    return app


def app_from_environment() -> FastAPI:
    """The factory the live uvicorn server is started with."""
    return build_app(
        os.environ[DATABASE_ENV], Path(os.environ[DATA_DIR_ENV]), os.environ.get(API_TOKEN_ENV)
    )
