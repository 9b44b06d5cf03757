"""The database and app a run works on: a fresh database, grown on demand, served in-process
(httpx over ASGI) or by a live uvicorn server."""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import func, inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine

from arkham_shard_packets.db.engine import create_engine, create_schema
from arkham_shard_packets.db.tables import metadata, packet_contents, packets

from .app import build_app
from .seed import Seeder
from .server import live_server


class UnsafeDatabase(Exception):
    pass


@dataclass(frozen=True)
class Plan:
    """How big and how long: chosen by a preset, each number overridable from the command line."""

    small: int
    large: int
    items: int
    rounds: int
    overhead_rounds: int
    load_seconds: float
    clients: int
    seed: int = 7


class Workbench:
    def __init__(self, database_url: str | None, workdir: Path, plan: Plan) -> None:
        self.workdir = workdir
        self.plan = plan
        self.url = database_url or f"sqlite:///{(workdir / 'bench.db').resolve()}"
        self.engine: AsyncEngine = create_engine(self.url)
        self.seeder = Seeder(self.engine, plan.items, plan.seed)
        self.seconds_seeding = 0.0

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    async def open(self, *, drop_existing: bool) -> None:
        """Starts from empty shard tables; refuses to drop packets it didn't seed."""
        async with self.engine.begin() as conn:
            existing = await conn.run_sync(lambda sync: inspect(sync).has_table(packets.name))
            if existing:
                count = (await conn.execute(select(func.count()).select_from(packets))).scalar()
                if count and not drop_existing:
                    raise UnsafeDatabase(
                        f"{self.url} already holds {count} packets; the benchmark drops the "
                        "shard's tables: pass --drop-existing if this database is disposable"
                    )
            await conn.run_sync(metadata.drop_all)
        await create_schema(self.engine)

    async def close(self) -> None:
        await self.engine.dispose()

    async def packet_count(self) -> int:
        return await self.seeder.count()

    async def grow_to(self, total: int) -> None:
        """Seeds packets (with their items) up to `total`, then lets the planner see them."""
        start = time.perf_counter()
        added = await self.seeder.grow_to(total)
        if added and self.backend == "postgresql":
            # What autovacuum would do after a bulk load, done now so it can't start mid-run.
            async with self.engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.exec_driver_sql(f"VACUUM ANALYZE {packets.name}, {packet_contents.name}")
        self.seconds_seeding += time.perf_counter() - start

    async def sample_ids(self, count: int, *, status: str | None = None) -> list[str]:
        statement = select(packets.c.id)
        if status is not None:
            statement = statement.where(packets.c.status == status)
        async with self.engine.connect() as conn:
            ids = list((await conn.execute(statement)).scalars())
        rng = random.Random(self.plan.seed)
        return rng.sample(ids, min(count, len(ids)))

    @asynccontextmanager
    async def client(self) -> AsyncIterator[httpx.AsyncClient]:
        """An httpx client on the app in this process (no network), lifespan included."""
        app = build_app(self.url, self.workdir / "data")
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                yield http

    def server(self) -> AbstractAsyncContextManager[str]:
        """A live uvicorn server on this database; yields its base URL."""
        return live_server(self.url, self.workdir / "data")
