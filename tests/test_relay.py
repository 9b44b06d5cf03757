"""Events off the request path: a write answers once it commits; the relay places its events in
the feed and hands them to the bus afterwards, in order, whatever the bus does meanwhile."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from arkham_shard_packets.events.outbox import PLACER_LOCK_KEY

from .conftest import POSTGRES_URL, make_packet, packet_events
from .test_cli_bundles import cli
from .test_crash_recovery import Server
from .test_import import forget

API = "/api/packets"
ANSWER_PATIENCE_S = 20.0


class StalledBus:
    """Wraps the host's bus; every emit waits until `release` is set."""

    def __init__(self, bus: Any) -> None:
        self.bus = bus
        self.release = asyncio.Event()
        self.waiting = 0

    async def emit(self, event_type: str, payload: dict[str, Any], source: str = "") -> None:
        self.waiting += 1
        await self.release.wait()
        await self.bus.emit(event_type, payload, source=source)


async def test_a_stalled_bus_never_holds_up_an_answer(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    relay = app.state.packets_shard.services.relay
    stalled = StalledBus(relay.bus)
    relay.bus = stalled
    first = await asyncio.wait_for(make_packet(client, "first"), ANSWER_PATIENCE_S)
    added = await asyncio.wait_for(
        client.post(
            f"{API}/{first['id']}/contents", json={"content_type": "claim", "content_id": "c"}
        ),
        ANSWER_PATIENCE_S,
    )
    assert added.status_code == 201
    second = await asyncio.wait_for(make_packet(client, "second"), ANSWER_PATIENCE_S)
    assert not await relay.settle(patience_s=0.5)  # the bus still holds the first event
    assert stalled.waiting == 1
    feed = (await client.get(f"{API}/events")).json()["events"]
    assert [e["event_type"] for e in feed] == [
        "packets.packet.created",
        "packets.content.added",
        "packets.packet.created",
    ]

    stalled.release.set()
    delivered = list(reversed(await packet_events(client)))
    assert [e["payload"].get("name") for e in delivered] == ["first", None, "second"]
    assert delivered[2]["payload"]["packet_id"] == second["id"]


@pytest.mark.skipif(not POSTGRES_URL, reason="SQLite takes one writer at a time by design")
async def test_a_writer_stalled_in_its_commit_holds_up_no_other_writer(
    client: httpx.AsyncClient, engine: Any
) -> None:
    """An outside transaction holds the outbox key the next event will get: the write that
    gets it stalls inside its outbox insert, just before its commit, until the outside one
    ends. Other writes must go on meanwhile (they queued behind it while every writer took
    one lock from its events to its commit)."""
    async with engine.connect() as outside:
        await outside.begin()
        taken = await outside.scalar(
            text("SELECT nextval(pg_get_serial_sequence('arkham_packet_outbox', 'sequence'))")
        )
        await outside.execute(
            text(
                "INSERT INTO arkham_packet_outbox (sequence, event_type, payload, created_at)"
                " VALUES (:key, 'outside', '{}', '')"
            ),
            {"key": taken + 1},
        )
        stalled = asyncio.ensure_future(make_packet(client, "stalled"))
        await asyncio.sleep(0.5)
        assert not stalled.done()
        for n in range(3):
            await asyncio.wait_for(make_packet(client, f"other {n}"), ANSWER_PATIENCE_S)
        assert not stalled.done()
        await outside.rollback()
    await asyncio.wait_for(stalled, ANSWER_PATIENCE_S)
    feed = (await client.get(f"{API}/events")).json()["events"]
    assert sorted(e["payload"]["name"] for e in feed) == [
        "other 0",
        "other 1",
        "other 2",
        "stalled",
    ]
    assert [e["sequence"] for e in feed] == [1, 2, 3, 4]


async def until_the_bus_has(client: httpx.AsyncClient, names: list[str]) -> None:
    """Waits until the newest packets the bus heard of are those created as `names`."""
    for _ in range(200):
        bus = (await client.get("/api/events/", params={"source": "packets"})).json()
        delivered = [e["payload"].get("name") for e in reversed(bus["events"])]
        if delivered[-len(names) :] == names:
            return
        await asyncio.sleep(0.02)
    assert delivered[-len(names) :] == names


async def unplaced(conn: AsyncConnection) -> Any:
    return await conn.scalar(
        text("SELECT count(*) FROM arkham_packet_outbox WHERE position IS NULL")
    )


@pytest.mark.skipif(not POSTGRES_URL, reason="on SQLite a writer places its own events")
async def test_the_bus_gets_a_write_s_events_without_waiting_for_their_place_in_the_feed(
    client: httpx.AsyncClient, engine: Any
) -> None:
    """An outside transaction holds the placers' lock: no event gets its place in the feed, yet
    the events of this process's writes reach its bus, in the order of their commits."""
    await packet_events(client)
    async with engine.connect() as outside:
        await outside.begin()
        await outside.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PLACER_LOCK_KEY})
        names = [f"unplaced {n}" for n in range(3)]
        for name in names:
            await asyncio.wait_for(make_packet(client, name), ANSWER_PATIENCE_S)
        await until_the_bus_has(client, names)
        assert await unplaced(outside) == 3
        await outside.rollback()
    feed = (await client.get(f"{API}/events")).json()["events"]
    assert [e["payload"]["name"] for e in feed] == names
    assert [e["sequence"] for e in feed] == [1, 2, 3]


SERVERS, WRITERS_PER_SERVER, WRITES_PER_WRITER = 3, 4, 24


async def write_a_lot(http: httpx.AsyncClient, seed: int) -> list[tuple[str, str]]:
    """Creates and content adds; what each should have put in the feed."""
    rng = random.Random(seed)
    expected: list[tuple[str, str]] = []
    mine: list[str] = []
    for n in range(WRITES_PER_WRITER):
        if not mine or rng.random() < 0.3:
            made = await http.post("/", json={"name": f"w{seed}-{n}"})
            assert made.status_code == 201, made.text
            mine.append(made.json()["id"])
            expected.append(("packets.packet.created", made.json()["id"]))
        else:
            body = {"content_type": "claim", "content_id": f"w{seed}-{n}"}
            added = await http.post(f"/{rng.choice(mine)}/contents", json=body)
            assert added.status_code == 201, added.text
            expected.append(("packets.content.added", added.json()["id"]))
    return expected


async def read_along(clients: list[httpx.AsyncClient], done: asyncio.Event) -> list[Any]:
    """Follows the feed from one server after another while the writers write; each page must
    go on exactly where the last one stopped. Once they are done, until every server in a row
    has nothing more (each answers once its own commits are in the feed)."""
    seen: list[Any] = []
    after, quiet, turn = 0, 0, 0
    while quiet < len(clients):
        finished = done.is_set()
        turn += 1
        page = (await clients[turn % len(clients)].get("/events", params={"after": after})).json()
        positions = [event["sequence"] for event in page["events"]]
        assert positions == list(range(after + 1, after + 1 + len(positions))), (after, positions)
        seen += page["events"]
        after = page["next_after"]
        quiet = quiet + 1 if finished and not positions else 0
        await asyncio.sleep(0.005)
    return seen


def key_of(event: dict[str, Any]) -> tuple[str, str]:
    payload = event["payload"]
    if event["event_type"] == "packets.packet.created":
        return event["event_type"], payload["packet_id"]
    return event["event_type"], payload["content_entry_id"]


async def test_the_feed_stays_gapless_and_ordered_under_writers_on_several_processes(
    tmp_path: Path, database_url: str
) -> None:
    if POSTGRES_URL:
        from .conftest import reset_postgres

        await reset_postgres(database_url)
    servers = [
        Server(tmp_path / "data", database_url, tmp_path / f"server-{n}.log")
        for n in range(SERVERS)
    ]
    try:
        for server in servers:
            await server.start()
        clients = [server.client() for server in servers]
        done = asyncio.Event()
        reader = asyncio.ensure_future(read_along(clients, done))
        written = await asyncio.gather(
            *(write_a_lot(clients[n % SERVERS], n) for n in range(SERVERS * WRITERS_PER_SERVER))
        )
        done.set()
        seen = await asyncio.wait_for(reader, 60)
        for http in clients:
            await http.aclose()
    finally:
        for server in servers:
            server.stop()
    expected = sorted(key for writes in written for key in writes)
    assert len(seen) == SERVERS * WRITERS_PER_SERVER * WRITES_PER_WRITER
    assert sorted(key_of(event) for event in seen) == expected
    # each writer's own events appear in the order it wrote them
    for writes in written:
        order = {key: n for n, key in enumerate(key_of(event) for event in seen)}
        assert [order[key] for key in writes] == sorted(order[key] for key in writes)


@pytest.fixture
def no_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The relay runs only when woken: a commit here, or a NOTIFY from another process."""
    monkeypatch.setenv("ARKHAM_PACKETS_OUTBOX_RETRY_SECONDS", "3600")


@pytest.mark.skipif(not POSTGRES_URL, reason="on SQLite a writer places its own events")
async def test_writes_leave_placing_to_the_feed_s_reader(
    no_retry: None, client: httpx.AsyncClient, engine: Any
) -> None:
    """No write sets off a placing of its own: the events of many wait, delivered, until the
    feed is read, and that read finds every one of them in its place, in commit order."""
    await packet_events(client)
    names = [f"written {n}" for n in range(5)]
    for name in names:
        await make_packet(client, name)
    await until_the_bus_has(client, names)
    async with engine.connect() as outside:
        assert await unplaced(outside) == len(names)
    feed = (await client.get(f"{API}/events")).json()["events"]
    assert [e["payload"]["name"] for e in feed] == names
    assert [e["sequence"] for e in feed] == [1, 2, 3, 4, 5]


async def test_an_offline_import_is_in_the_feed_at_once_and_reaches_a_server_bus(
    no_retry: None, app: FastAPI, client: httpx.AsyncClient, database_url: str
) -> None:
    packet = await make_packet(client, "From the CLI")
    exported = (await client.post(f"{API}/{packet['id']}/export", json={"format": "json"})).json()
    await packet_events(client)
    await forget(client, app, packet["id"])
    data_dir = Path(app.state.packets_shard.services.data_dir)

    bundle = str(data_dir / exported["file_path"])
    imported = await cli(database_url, data_dir, "import", bundle, "--quiet")
    assert imported.returncode == 0, imported.stderr

    feed = (await client.get(f"{API}/events", params={"limit": 1000})).json()["events"]
    assert feed[-1]["event_type"] == "packets.packet.imported"
    assert feed[-1]["payload"]["packet_id"] == packet["id"]
    if not POSTGRES_URL:
        return  # SQLite has no NOTIFY: the server's next retry delivers it
    for _ in range(200):
        bus = (await client.get("/api/events/", params={"source": "packets"})).json()["events"]
        if bus and bus[0]["event_type"] == "packets.packet.imported":
            break
        await asyncio.sleep(0.05)
    assert bus[0]["payload"]["packet_id"] == packet["id"]


@pytest.mark.skipif(not POSTGRES_URL, reason="servers are told by NOTIFY on PostgreSQL")
async def test_an_offline_export_reaches_the_bus_of_exactly_one_of_two_servers(
    tmp_path: Path, database_url: str
) -> None:
    """Both servers are told of the CLI's commit; one claims its event and delivers it."""
    from .conftest import reset_postgres

    await reset_postgres(database_url)
    data_dir = tmp_path / "data"
    servers = [Server(data_dir, database_url, tmp_path / f"server-{n}.log") for n in range(2)]
    buses = []
    try:
        for server in servers:
            await server.start()
        async with servers[0].client() as http:
            made = await http.post("/", json={"name": "Exported offline"})
            packet = made.json()
        exported = await cli(
            database_url, data_dir, "export", packet["id"], "-o", str(tmp_path / "out.json")
        )
        assert exported.returncode == 0, exported.stderr
        for _ in range(200):
            buses = [await exports_on_bus(server.base) for server in servers]
            if sum(buses) >= 1:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # time enough for a second delivery, if there were one
        buses = [await exports_on_bus(server.base) for server in servers]
    finally:
        for server in servers:
            server.stop()
    assert sorted(buses) == [0, 1]


async def exports_on_bus(base: str) -> int:
    async with httpx.AsyncClient(base_url=base) as http:
        answer = await http.get("/api/events/", params={"source": "packets", "limit": 1000})
    events = answer.json()["events"]
    return sum(event["event_type"] == "packets.packet.exported" for event in events)
