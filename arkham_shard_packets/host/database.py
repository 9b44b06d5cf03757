"""The Frame's database service, as far as shards see it: a URL and three query helpers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from ..db.engine import PRIVATE_FILE, create_engine


@dataclass(frozen=True)
class DatabaseConfig:
    database_url: str


class HostDatabase:
    def __init__(self, database_url: str, file_mode: int = PRIVATE_FILE) -> None:
        self.config = DatabaseConfig(database_url)
        self.file_mode = file_mode
        self._engine: AsyncEngine | None = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = create_engine(self.config.database_url, file_mode=self.file_mode)
        return self._engine

    async def execute(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        async with self.engine.begin() as conn:
            return (await conn.execute(text(sql), params or {})).rowcount

    async def fetch_one(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        async with self.engine.connect() as conn:
            row = (await conn.execute(text(sql), params or {})).mappings().first()
            return dict(row) if row is not None else None

    async def fetch_all(self, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
        async with self.engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(text(sql), params or {})).mappings()]

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
