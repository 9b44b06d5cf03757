"""Concurrent requests on one packet: no lost update, no duplicate, no 'database is locked'."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from arkham_shard_packets.db.tables import packet_contents
from arkham_shard_packets.host.app import HostConfig, create_app

from .conftest import POSTGRES_URL, make_packet, settle
from .custody_helpers import check_chain_independently


async def test_concurrent_adds_keep_counts_exact(client: httpx.AsyncClient, engine: object) -> None:
    packet = await make_packet(client)
    url = f"/api/packets/{packet['id']}/contents"

    async def add(i: int) -> int:
        body = {"content_type": "document", "content_id": f"d{i % 40}", "data": {"i": i % 40}}
        return (await client.post(url, json=body)).status_code

    codes = await asyncio.gather(
        *(add(i) for i in range(60)), *(make_extra(client) for _ in range(10))
    )
    assert sorted(set(codes)) == [201, 409]
    assert codes[:60].count(201) == 40
    current = (await client.get(f"/api/packets/{packet['id']}")).json()
    async with engine.connect() as conn:  # type: ignore[attr-defined]
        rows = (
            await conn.execute(
                select(func.count()).where(packet_contents.c.packet_id == packet["id"])
            )
        ).scalar_one()
    assert current["contents_count"] == rows == 40
    assert current["size_bytes"] == sum(len(f'{{"i":{i}}}') for i in range(40))
    log = (await client.get(f"/api/packets/{packet['id']}/custody")).json()
    assert (log["length"], log["intact"], log["problems"]) == (41, True, [])
    assert check_chain_independently(log["entries"])[-1] == log["head"]


async def make_extra(client: httpx.AsyncClient) -> int:
    return (await client.post("/api/packets/", json={"name": "side"})).status_code


async def test_finalize_racing_edits_never_half_applies(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client)
    url = f"/api/packets/{packet['id']}"
    adds = [
        client.post(f"{url}/contents", json={"content_type": "claim", "content_id": f"c{i}"})
        for i in range(20)
    ]
    results = await asyncio.gather(client.post(f"{url}/finalize"), *adds)
    assert results[0].status_code == 200
    assert {r.status_code for r in results[1:]} <= {201, 409}
    accepted = sum(r.status_code == 201 for r in results[1:])
    final = (await client.get(url)).json()
    assert final["status"] == "finalized"
    listing = await client.get(f"{url}/contents")
    # everything accepted before the seal is in it; nothing got in after
    assert final["contents_count"] == len(listing.json()) == accepted
    assert listing.headers["x-total-count"] == str(accepted)


@pytest.mark.skipif(bool(POSTGRES_URL), reason="SQLite's write lock")
async def test_sqlite_writers_of_one_process_take_turns_without_the_busy_handler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a busy timeout of 1 ms, writers racing for SQLite's lock would fail ("database is
    locked", 503): the process's writers queue in order instead (db/session.py)."""
    monkeypatch.setenv("ARKHAM_PACKETS_SQLITE_BUSY_TIMEOUT_MS", "1")
    config = HostConfig(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path}/q.db")
    app = create_app(config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            packet = await make_packet(http)
            answers = await asyncio.gather(
                *(
                    http.post(
                        f"/api/packets/{packet['id']}/contents",
                        json={"content_type": "document", "content_id": f"d{n}"},
                    )
                    for n in range(40)
                ),
                *(http.post("/api/packets/", json={"name": f"p{n}"}) for n in range(20)),
            )
            assert [answer.status_code for answer in answers] == [201] * 60
            await settle(http)


@pytest.mark.skipif(bool(POSTGRES_URL), reason="SQLite's write lock")
async def test_a_write_waiting_for_another_process_s_lock_leaves_reads_served(
    client: httpx.AsyncClient, database_url: str
) -> None:
    """Another process holds SQLite's write lock: a write waits for it (in short sleeps, not in
    SQLite's busy handler, which would block the event loop), reads are answered meanwhile,
    and the write goes through once the lock is released."""
    packet = await make_packet(client)
    other = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        write = asyncio.ensure_future(
            client.post(
                f"/api/packets/{packet['id']}/contents",
                json={"content_type": "document", "content_id": "waited"},
            )
        )
        await asyncio.sleep(0.3)
        assert not write.done()
        reads = [await client.get(f"/api/packets/{packet['id']}") for _ in range(5)]
        assert [read.status_code for read in reads] == [200] * 5
        assert not write.done()
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert (await asyncio.wait_for(write, 10)).status_code == 201


async def test_revoking_links_while_they_are_used_never_deadlocks(
    client: httpx.AsyncClient,
) -> None:
    """The owner revoking a link and the link's holder commenting through it, at once: both
    lock the packet before the share, so neither waits on the other in a ring (on PostgreSQL
    a deadlock is an aborted transaction)."""
    packet = await make_packet(client)
    links = []
    for n in range(12):
        made = await client.post(
            f"/api/packets/{packet['id']}/share",
            json={"shared_with": f"reader{n}@example.org", "permissions": "comment"},
        )
        assert made.status_code == 201, made.text
        links.append(made.json())

    async def use_and_revoke(link: dict[str, str]) -> list[int]:
        comment = client.post(
            f"/api/packets/shared/{link['access_token']}/comments",
            json={"author": "a", "body": "b"},
        )
        revoke = client.delete(f"/api/packets/{packet['id']}/shares/{link['id']}")
        answers = await asyncio.gather(comment, revoke)
        return [answer.status_code for answer in answers]

    outcomes = await asyncio.gather(*(use_and_revoke(link) for link in links))
    for commented, revoked in outcomes:
        assert revoked == 204
        assert commented in (201, 404)  # before the revocation, or refused after it
    await settle(client)


async def test_edits_racing_exports_keep_one_custody_chain(client: httpx.AsyncClient) -> None:
    """An edit reads the head of the custody log as it locks the packet (on PostgreSQL, in the
    locking UPDATE); an export appends to the log holding the lock without changing the
    packet's row. Each must see the other's entry: one chain, no position given twice."""
    packet = await make_packet(client)
    url = f"/api/packets/{packet['id']}"
    await client.post(f"{url}/contents", json={"content_type": "claim", "content_id": "c"})
    edits = [client.put(url, json={"description": f"edit {i}"}) for i in range(12)]
    exports = [client.post(f"{url}/export", json={"format": "json"}) for _ in range(12)]
    answers = await asyncio.gather(
        *(call for pair in zip(edits, exports, strict=True) for call in pair)
    )
    assert [answer.status_code for answer in answers] == [200, 200] * 12, [
        answer.text for answer in answers if answer.status_code != 200
    ]
    log = (await client.get(f"{url}/custody", params={"limit": 100})).json()
    assert (log["intact"], log["problems"]) == (True, []), log["problems"]
    events = [entry["event"] for entry in log["entries"]]
    assert (events.count("edited"), events.count("exported")) == (12, 12), events
    assert check_chain_independently(log["entries"])[-1] == log["head"]
