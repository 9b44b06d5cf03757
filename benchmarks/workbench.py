"""The databases a run works on, each grown on demand and served in-process (httpx over ASGI)
or by a live uvicorn server.

Each database is the benchmark's own: a SQLite file in the work directory, or on PostgreSQL a
schema `packets_bench_<name>` of the database named on the command line (reached through the
URL's `options=-c search_path=...`). Opening one drops and remakes it, then migrates it as the
shard does at start-up. `main` ends at the largest size; sections that compare sizes side by
side ask for more databases by name, so both sizes are measured in the same minutes.
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from arkham_shard_packets.db.engine import create_engine
from arkham_shard_packets.db.migrate import upgrade
from arkham_shard_packets.db.scope import Scope
from arkham_shard_packets.db.tables import (
    packet_contents,
    packet_shares,
    packet_tallies,
    packet_versions,
    packets,
)
from arkham_shard_packets.packets.totals import fold

from .app import build_app
from .seed import Seeder
from .server import LiveServer, live_process, live_server

SCHEMA_PREFIX = "packets_bench_"


@dataclass(frozen=True)
class Plan:
    """How big and how long: chosen by a preset, each number overridable from the command line."""

    small: int
    middle: int  # section growth: the size between, each compared with the small one
    large: int
    items: int
    rounds: int
    overhead_rounds: int
    load_seconds: float
    clients: int
    seal_items: int
    seal_runs: int
    bulk_mib: int = 1024  # sections bulk and memory: payload of the bulk packet
    memory_mib: int = 100  # section memory: the smaller packet peak memory is compared with
    bulk_runs: int = 3
    bulk_items: int = 10_000  # section bulk: items of the bundle imported beside another writer
    hostile_seconds: float = 15.0  # section hostile: each phase, alone and under attack
    refusal_scale: float = 1.0  # section refusals: the crafted bundles' size, as a fraction
    flood_reads: int = 60_000  # section floods: reads of one share link
    lockout_seconds: float = 60.0  # section floods: the limit and the lockout bursts (at most 60)
    transfer_mib: int = 1024  # section transfer: the file uploaded and downloaded
    transfer_runs: int = 3  # section transfer: runs on each store
    trips_runs: int = 5  # section trips: requests of each kind counted, after 3 warm-ups
    trips_after_seconds: float = 0.25  # section trips: background work counted for this long
    seed: int = 7


class BenchDatabase:
    def __init__(self, name: str, url: str, data_dir: Path, plan: Plan) -> None:
        self.name = name
        self.url = url
        self.data_dir = data_dir
        self.plan = plan
        self.engine: AsyncEngine = create_engine(url)
        self.seeder = Seeder(self.engine, plan.items, plan.seed)
        self.seconds_seeding = 0.0

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    async def open(self) -> None:
        """Starts from an empty database at the shard's newest schema."""
        await self.engine.dispose()
        if self.backend == "sqlite":
            path = Path(make_url(self.url).database or "")
            for leftover in (
                path,
                path.with_name(path.name + "-wal"),
                path.with_name(path.name + "-shm"),
            ):
                leftover.unlink(missing_ok=True)
        else:
            schema = SCHEMA_PREFIX + self.name
            async with self.engine.begin() as conn:
                await conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
                await conn.execute(text(f"CREATE SCHEMA {schema}"))
                # Outside the dropped schemas, so one drop never takes it from the others.
                await conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"))
        await upgrade(self.engine)

    async def close(self) -> None:
        await self.engine.dispose()

    async def packet_count(self) -> int:
        return await self.seeder.count()

    async def grow_to(self, total: int) -> None:
        """Seeds packets (with their items) up to `total`, then lets the planner see them."""
        start = time.perf_counter()
        added = await self.seeder.grow_to(total)
        if added:
            await self.settle()
        self.seconds_seeding += time.perf_counter() - start

    async def fill(self, packet_ids: list[str], items: int) -> None:
        """Gives each of these new, empty packets the same `items` items (see Seeder.fill)."""
        start = time.perf_counter()
        await self.seeder.fill(packet_ids, items)
        await self.settle()
        self.seconds_seeding += time.perf_counter() - start

    async def settle(self) -> None:
        """After a bulk load: the state of a database that grew over time."""
        # The triggers logged every seeded row in the tallies; a first read would fold
        # them. Fold now, so the measured state is that of a database grown over time.
        async with self.engine.begin() as conn:
            await fold(conn, Scope())
        if self.backend == "postgresql":
            # What autovacuum would do after a bulk load, done now so it can't start mid-run.
            tables = ", ".join(
                t.name
                for t in (packets, packet_contents, packet_tallies, packet_versions, packet_shares)
            )
            async with self.engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.exec_driver_sql(f"VACUUM ANALYZE {tables}")

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
        app = build_app(self.url, self.data_dir)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                yield http

    def server(self) -> AbstractAsyncContextManager[str]:
        """A live uvicorn server on this database; yields its base URL."""
        return live_server(self.url, self.data_dir)

    def process(
        self, settings: dict[str, str] | None = None
    ) -> AbstractAsyncContextManager[LiveServer]:
        """`server()`, telling also the server's process id (to read its memory); `settings`:
        the shard's besides its database and data directory, as environment variables."""
        return live_process(self.url, self.data_dir, settings=settings)


class Workbench:
    def __init__(self, database_url: str | None, workdir: Path, plan: Plan) -> None:
        self.workdir = workdir
        self.plan = plan
        self.base_url = database_url
        self.main = BenchDatabase("main", self.url_for("main"), workdir / "data-main", plan)
        self.others: dict[str, BenchDatabase] = {}

    @property
    def backend(self) -> str:
        return self.main.backend

    def url_for(self, name: str) -> str:
        if self.base_url is None:
            return f"sqlite:///{(self.workdir / f'{name}.db').resolve()}"
        options = f"-c search_path={SCHEMA_PREFIX}{name}"
        url = make_url(self.base_url).update_query_dict({"options": options})
        return url.render_as_string(hide_password=False)

    async def open(self) -> None:
        await self.main.open()

    async def database(self, name: str) -> BenchDatabase:
        """Another empty database beside `main`, opened on first use."""
        if name not in self.others:
            database = BenchDatabase(
                name, self.url_for(name), self.workdir / f"data-{name}", self.plan
            )
            self.others[name] = database
            await database.open()
        return self.others[name]

    @property
    def seconds_seeding(self) -> float:
        databases = [self.main, *self.others.values()]
        return sum(database.seconds_seeding for database in databases)

    async def close(self) -> None:
        for database in [self.main, *self.others.values()]:
            await database.close()
