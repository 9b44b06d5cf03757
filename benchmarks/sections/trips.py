"""Section 7, trips: what one request of each kind asks of the database.

Counted with SQLAlchemy event listeners on the shard's engine (statements, transactions, pool
pings), in-process, after a warm-up. A context variable set around the request tells its own
statements from the background work it sets off (event delivery, share-use logging), which is
counted apart for the 250 ms that follow the answer (`--trips-after-seconds`). Round trips:
every statement, commit, rollback and ping, plus on PostgreSQL each BEGIN (asyncpg sends it on
its own, before a transaction's first statement, and none for a transaction of one statement
sent alone; SQLite's BEGIN is a statement). Compiled: statements SQLAlchemy compiled for the
request instead of taking them from its cache (after the warm-up, none should be). One target
(issue 30): finalize in at most FINALIZE_TARGET round trips, whatever its items
(tests/test_round_trips.py holds it with 1, 10 and 1,000); the rest of the table shows where
a request's time goes and what changed.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AbstractContextManager, asynccontextmanager
from contextvars import ContextVar
from functools import partial
from typing import Any
from unittest.mock import patch

import httpx
from sqlalchemy import event
from sqlalchemy.engine.default import CACHE_HIT

from arkham_shard_packets.db.session import Database

from ..app import build_app
from ..stats import SectionResult, Target, verdict
from ..workbench import Workbench

NAME = "trips"
TITLE = "Trips: statements, transactions and round trips per request"
API = "/api/packets"
WARMUP = 3
AFTER_S = 0.25  # the tests' wait; the benchmark's is its plan's
WRITES = ("INSERT", "UPDATE", "DELETE")
FINALIZE = "POST /{id}/finalize"
FINALIZE_TARGET = 6

current: ContextVar[str | None] = ContextVar("trips_request", default=None)


class Tally:
    """What the database was asked to do, by request label ("after: <label>" for background).
    Calls made inline (SQLite's short writes and reads, db/inline_sqlite.py) are no round trips."""

    def __init__(self, database: Database) -> None:
        self.counts: dict[str, Counter[str]] = {}
        self.background: str | None = None
        self.postgres = database.dialect == "postgresql"
        self._listen(database.engine.sync_engine, inline=False)
        for inline in (database.inline, database.inline_reader):
            if inline is not None:
                self._listen(inline.sync_engine, inline=True)

    def _listen(self, sync: Any, *, inline: bool) -> None:
        call = partial(self._called, inline)
        event.listen(sync, "before_cursor_execute", partial(self._statement, inline))
        event.listen(sync, "begin", lambda conn: self._ended(conn, "transactions"))
        event.listen(sync, "commit", lambda conn: self._ended(conn, "commits", call))
        event.listen(sync, "rollback", lambda conn: self._ended(conn, "rollbacks", call))
        dialect = sync.dialect
        ping = dialect.do_ping

        def counted_ping(connection: Any) -> bool:
            self._count("pings")
            return bool(ping(connection))

        dialect.do_ping = counted_ping

    def _called(self, inline: bool) -> None:
        if inline:
            self._count("inline calls")

    def _count(self, what: str) -> None:
        label = current.get()
        if label is None and self.background is not None:
            label = f"after: {self.background}"
        if label is not None:
            self.counts.setdefault(label, Counter())[what] += 1

    def _ended(self, connection: Any, what: str, call: Callable[[], None] | None = None) -> None:
        """Counts a transaction begun, and a COMMIT or ROLLBACK the database sees: none in
        autocommit, nor on PostgreSQL for a transaction that sent its one statement alone
        (db/session.py), which the driver began on the server only before a statement."""
        if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            return
        if self.postgres and call is not None:
            if not connection.connection.driver_connection.is_in_transaction():
                return
            self._count("begins")  # sent before the transaction's first statement
        self._count(what)
        if call is not None:
            call()

    def _statement(self, inline: bool, *args: Any) -> None:
        statement, context = str(args[2]).lstrip().upper(), args[4]
        self._count("statements")
        self._called(inline)
        if context.compiled is not None and context.cache_hit is not CACHE_HIT:
            self._count("compiled")
        if statement.startswith(WRITES) or "FOR UPDATE" in statement:
            self._count("writes")
        if statement.startswith("BEGIN IMMEDIATE"):
            self._count("write locks")

    def round_trips(self, counts: Counter[str]) -> int:
        trips = counts["statements"] + counts["commits"] + counts["rollbacks"] + counts["pings"]
        return trips + counts["begins"] - counts["inline calls"]


Counted = Callable[[], AbstractAsyncContextManager[None]]
Probe = Callable[[httpx.AsyncClient, Counted], Awaitable[None]]


async def expect(response: Awaitable[httpx.Response], status: int) -> Any:
    answer = await response
    if answer.status_code != status:
        raise RuntimeError(f"{answer.request.url}: {answer.status_code} {answer.text}")
    return answer.json() if answer.content else None


async def new_packet(client: httpx.AsyncClient, items: int = 0) -> str:
    packet = await expect(client.post(f"{API}/", json={"name": "Trips"}), 201)
    for n in range(items):
        body = {"content_type": "document", "content_id": f"t{n}"}
        await expect(client.post(f"{API}/{packet['id']}/contents", json=body), 201)
    return str(packet["id"])


def probes(client: httpx.AsyncClient, fixed: dict[str, str]) -> dict[str, Probe]:
    packet, token = fixed["packet"], fixed["token"]

    async def create(c: httpx.AsyncClient, counted: Counted) -> None:
        async with counted():
            await expect(c.post(f"{API}/", json={"name": "Trips"}), 201)

    async def add(c: httpx.AsyncClient, counted: Counted) -> None:
        body = {"content_type": "claim", "content_id": f"c-{uuid.uuid4()}"}
        async with counted():
            await expect(c.post(f"{API}/{packet}/contents", json=body), 201)

    async def edit(c: httpx.AsyncClient, counted: Counted) -> None:
        async with counted():
            await expect(c.put(f"{API}/{packet}", json={"description": str(uuid.uuid4())}), 200)

    async def finalize(c: httpx.AsyncClient, counted: Counted) -> None:
        target = await new_packet(c, items=3)
        async with counted():
            await expect(c.post(f"{API}/{target}/finalize"), 200)

    def read(path: str, status: int = 200) -> Probe:
        async def get(c: httpx.AsyncClient, counted: Counted) -> None:
            async with counted():
                await expect(c.get(path), status)

        return get

    return {
        "POST /": create,
        "POST /{id}/contents": add,
        "PUT /{id}": edit,
        "POST /{id}/finalize": finalize,
        "GET /{id}": read(f"{API}/{packet}"),
        "GET /?page=1": read(f"{API}/?page=1"),
        "GET /{id}/contents": read(f"{API}/{packet}/contents"),
        "GET /events?after=0": read(f"{API}/events?after=0&limit=10"),
        "GET /shared/{token}": read(f"{API}/shared/{token}"),
        "GET /shared/{unknown token}": read(f"{API}/shared/{'x' * 43}", 404),
    }


@asynccontextmanager
async def counting(tally: Tally, label: str, after_s: float = AFTER_S) -> AsyncIterator[None]:
    """Counts the block's statements for `label`, and what runs beside it and in the `after_s`
    that follow as its background work (after waiting as long for the setup's own to end). A
    warm-up, never read, waits for nothing: the first request measured after it waits for its
    background work."""
    await asyncio.sleep(after_s)
    tally.background = label
    token = current.set(label)
    try:
        yield
    finally:
        current.reset(token)
    await asyncio.sleep(after_s)
    tally.background = None


def quiet_retry_loop() -> AbstractContextManager[object]:
    """No periodic outbox retry while counting: only what requests set off is counted."""
    return patch.dict(os.environ, {"ARKHAM_PACKETS_OUTBOX_RETRY_SECONDS": "3600"})


async def measure(bench: Workbench) -> tuple[Tally, list[str]]:
    database = await bench.database("trips")
    with quiet_retry_loop():
        app = build_app(database.url, database.data_dir)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://t"
            ) as client,
        ):
            tally = Tally(app.state.packets_shard.services.database)
            packet = await new_packet(client, items=3)
            shared = await new_packet(client, items=2)
            link = await expect(
                client.post(f"{API}/{shared}/share", json={"shared_with": "public"}), 201
            )
            table = probes(client, {"packet": packet, "token": link["access_token"]})
            warm_up = partial(counting, tally, "warm-up", 0.0)
            after_s = bench.plan.trips_after_seconds
            for label, probe in table.items():
                for run in range(WARMUP + bench.plan.trips_runs):
                    measured = run >= WARMUP
                    counted = partial(counting, tally, label, after_s) if measured else warm_up
                    await probe(client, counted)
    return tally, list(table)


def per_request(counts: Counter[str] | None, what: str, measured: int) -> str:
    value = (counts or Counter())[what] / measured
    return f"{value:g}"


async def run(bench: Workbench) -> SectionResult:
    tally, labels = await measure(bench)
    measured = bench.plan.trips_runs
    rows, figures, targets = [], {}, []
    for label in labels:
        mine, after = tally.counts.get(label, Counter()), tally.counts.get(f"after: {label}")
        trips = tally.round_trips(mine) / measured
        background = tally.round_trips(after or Counter()) / measured
        figures[label] = {
            "request": {k: v / measured for k, v in mine.items()},
            "after": {k: v / measured for k, v in (after or Counter()).items()},
            "round_trips": trips,
            "round_trips_after": background,
        }
        goal = ""
        if label == FINALIZE:
            target = Target(f"trips: {label} round trips", trips, FINALIZE_TARGET, unit="")
            targets.append(target)
            goal = f"<= {FINALIZE_TARGET}: {verdict(target)}"
        rows.append(
            [
                label,
                per_request(mine, "statements", measured),
                per_request(mine, "writes", measured),
                per_request(mine, "transactions", measured),
                per_request(mine, "write locks", measured),
                per_request(mine, "pings", measured),
                per_request(mine, "compiled", measured),
                f"{trips:g}",
                goal,
                f"{background:g}",
            ]
        )
    return SectionResult(
        name=NAME,
        title=TITLE,
        columns=[
            "request",
            "statements",
            "writing",
            "transactions",
            "SQLite write locks",
            "pings",
            "compiled",
            "round trips",
            "target",
            "after the answer",
        ],
        rows=rows,
        figures={"measured": measured, "backend": bench.backend, "requests": figures},
        targets=targets,
        notes=[
            f"Means over {measured} requests of each kind after {WARMUP} of warm-up. "
            "'writing' counts INSERT, UPDATE, DELETE and SELECT ... FOR UPDATE; 'after the "
            f"answer' is the round trips of the background work set off, within "
            f"{bench.plan.trips_after_seconds * 1000:.0f} ms."
        ],
    )
