"""What a request asks of the database: the statements its answer needs, in one transaction per
write, no ping on checkout, and a connection the server closed replaced without an error."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from functools import partial
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import insert, update

from arkham_shard_packets.core.clock import now_text
from arkham_shard_packets.db.tables import packet_contents, packets
from arkham_shard_packets.records.packets import stored_size
from benchmarks.sections.trips import FINALIZE_TARGET, Tally, counting
from benchmarks.seed import content_rows

from .conftest import POSTGRES_URL, add_item, make_packet

API = "/api/packets"
FIRST = {"content_type": "document", "content_id": "first"}


@pytest.fixture
def tally(app: FastAPI) -> Tally:
    return Tally(app.state.packets_shard.services.database)


async def counted(tally: Tally, label: str, request: Any) -> Counter[str]:
    async with counting(tally, label):
        await request
    return tally.counts.get(label, Counter())


# Round trips on PostgreSQL (BEGIN and COMMIT are round trips of their own); on SQLite, calls
# into the database's thread, BEGIN IMMEDIATE being one of the statements.
# A create inserts the packet, its first version (and its snapshot), the first entry of its
# custody log and its event, reading nothing back. A content add and an edit lock the packet
# with their change (UPDATE ... RETURNING), which also returns the custody log's head and, for
# an item, whether the packet holds it already and its place; then they insert the item, the
# log's entry and the event. A removal locks the packet, deletes the item (returning it), then
# writes the packet's counts, the log's entry and the event (on PostgreSQL the lock's
# statement deletes the item and lowers the counts, migration 0019); a share locks the packet, then
# inserts the share, the log's entry and the event. On PostgreSQL the rows nothing
# reads back go with the event, in one statement, and a create's, its only one, goes without
# BEGIN and COMMIT; on SQLite, BEGIN IMMEDIATE is a statement too (the event is written in its
# place in the feed).
WRITES = {  # statements, round trips
    "postgresql": {
        "create": (1, 1),
        "content add": (1, 1),
        "edit": (1, 1),
        "removal": (1, 1),
        "share": (1, 1),
    },
    "sqlite": {
        "create": (6, 0),
        "content add": (5, 0),
        "edit": (4, 0),
        "removal": (6, 0),
        "share": (5, 0),
    },
}


async def edit(client: httpx.AsyncClient, packet_id: str, description: str) -> None:
    answer = await client.put(f"{API}/{packet_id}", json={"description": description})
    assert answer.status_code == 200, answer.text


async def share(client: httpx.AsyncClient, packet_id: str) -> None:
    answer = await client.post(f"{API}/{packet_id}/share", json={"shared_with": "public"})
    assert answer.status_code == 201, answer.text


async def remove(client: httpx.AsyncClient, packet_id: str, item_id: str) -> None:
    answer = await client.delete(f"{API}/{packet_id}/contents/{item_id}")
    assert answer.status_code == 204, answer.text


async def test_a_write_is_one_transaction_of_the_statements_it_needs(
    client: httpx.AsyncClient, tally: Tally
) -> None:
    packet = await make_packet(client)
    await remove(client, packet["id"], (await add_item(client, packet["id"], "warm-up"))["id"])
    await edit(client, packet["id"], "warm-up")
    await share(client, packet["id"])
    item = await add_item(client, packet["id"], "to remove")
    expected = WRITES["postgresql" if POSTGRES_URL else "sqlite"]
    for n in range(3):  # a create's connection, back in the pool, begins the next write
        measured = {
            "create": await counted(tally, f"create {n}", make_packet(client, "counted")),
            "content add": await counted(
                tally, f"content add {n}", add_item(client, packet["id"], f"counted {n}")
            ),
            "edit": await counted(tally, f"edit {n}", edit(client, packet["id"], f"edit {n}")),
        }
        removed = remove(client, packet["id"], item["id"])
        measured["removal"] = await counted(tally, f"removal {n}", removed)
        item = await add_item(client, packet["id"], f"to remove {n}")
        measured["share"] = await counted(tally, f"share {n}", share(client, packet["id"]))
        for label, counts in measured.items():
            statements, trips = expected[label]
            assert counts["transactions"] == 1, (label, counts)
            assert (counts["pings"], counts["compiled"]) == (0, 0), (label, counts)
            assert counts["statements"] == statements, (label, counts)
            assert tally.round_trips(counts) == trips, (label, counts)
            # SQLite commits in its thread; on PostgreSQL a statement sent alone commits itself
            alone = POSTGRES_URL and statements == trips
            assert counts["commits"] == (0 if alone else 1), (label, counts)
    listed = (await client.get(f"{API}/", params={"search": "counted"})).json()["items"]
    created_ones = [packet for packet in listed if packet["name"] == "counted"]
    assert len(created_ones) == 3, listed
    for created in created_ones:
        versions = (await client.get(f"{API}/{created['id']}/versions")).json()
        assert [version["version_number"] for version in versions] == [1], versions
        custody = (await client.get(f"{API}/{created['id']}/custody")).json()
        assert [entry["event"] for entry in custody["entries"]] == ["created"], custody
        assert custody["intact"] is True, custody


# Finalize: BEGIN; the lock; the items with the custody log's head and the latest version
# number; the signing key; the update, snapshot, version, custody entry, seal and event in one
# statement; COMMIT. On SQLite each write is a statement, and all run in the event loop's thread
# (a short write): no round trip.
FINALIZE = {"postgresql": (4, 6), "sqlite": (10, 0)}


async def test_finalize_sends_as_many_round_trips_whatever_its_items(
    client: httpx.AsyncClient, tally: Tally, engine: Any
) -> None:
    warm_up = await make_packet(client, "warm-up")
    await add_item(client, warm_up["id"], "warm-up")
    assert (await client.post(f"{API}/{warm_up['id']}/finalize")).status_code == 200
    statements, trips = FINALIZE["postgresql" if POSTGRES_URL else "sqlite"]
    assert trips <= FINALIZE_TARGET
    for count in (1, 10, 1000):
        packet = await make_packet(client, f"{count} items")
        rows = content_rows(random.Random(count), packet["id"], now_text(), count)
        async with engine.begin() as conn:  # as benchmarks/seed.py gives many items
            await conn.execute(insert(packet_contents), rows)
            size = sum(stored_size(row) for row in rows)
            counters = {"contents_count": count, "size_bytes": size}
            await conn.execute(update(packets).where(packets.c.id == packet["id"]), counters)
        finalize = client.post(f"{API}/{packet['id']}/finalize")
        counts = await counted(tally, f"finalize {count}", finalize)
        assert counts["transactions"] == counts["commits"] == 1, (count, counts)
        assert (counts["pings"], counts["compiled"]) == (0, 0), (count, counts)
        assert counts["statements"] == statements, (count, counts)
        assert tally.round_trips(counts) == trips, (count, counts)
        report = (await client.get(f"{API}/{packet['id']}/verify")).json()
        assert report["valid"] is True, report["problems"]
        assert (report["signed"], report["sealed_version"]) == (True, 2), report
        assert report["computed"] == report["snapshot_computed"] == report["checksum"], report
        sealed = (await client.get(f"{API}/{packet['id']}")).json()
        assert (sealed["status"], sealed["version"]) == ("finalized", 2), sealed
        assert sealed["checksum"] == report["checksum"], sealed


async def test_requests_after_the_first_of_their_kind_compile_no_sql(
    client: httpx.AsyncClient, tally: Tally
) -> None:
    """SQLAlchemy compiles a statement once and reuses it; one without a cache key (as the
    dialects' ON CONFLICT before SQLAlchemy 2.1, which the Frame installs) is compiled on every
    request."""

    async def a_packet_s_life(n: int) -> None:
        packet = (await make_packet(client, f"life {n}"))["id"]
        item = await add_item(client, packet, "first")
        await add_item(client, packet, "second")
        assert (await client.post(f"{API}/{packet}/contents", json=FIRST)).status_code == 409
        assert (await client.put(f"{API}/{packet}", json={"description": "d"})).status_code == 200
        removed = await client.delete(f"{API}/{packet}/contents/{item['id']}")
        assert removed.status_code == 204
        share = {"shared_with": "public"}
        assert (await client.post(f"{API}/{packet}/share", json=share)).status_code == 201
        assert (await client.post(f"{API}/{packet}/finalize")).status_code == 200
        for path in (f"{API}/{packet}", f"{API}/{packet}/contents", f"{API}/?page=1"):
            assert (await client.get(path)).status_code == 200

    await a_packet_s_life(1)
    counts = await counted(tally, "second life", a_packet_s_life(2))
    assert counts["statements"] > 15
    assert counts["compiled"] == 0, counts


async def test_a_read_sends_its_statements_and_nothing_else(
    client: httpx.AsyncClient, tally: Tally
) -> None:
    packet = await make_packet(client)
    await client.get(f"{API}/{packet['id']}")
    counts = await counted(tally, "read", client.get(f"{API}/{packet['id']}"))
    assert (counts["pings"], counts["compiled"]) == (0, 0)
    if POSTGRES_URL:
        # No BEGIN and COMMIT around a read (READ COMMITTED gives each statement its snapshot).
        assert (counts["statements"], tally.round_trips(counts)) == (1, 1)
    else:
        # BEGIN, the snapshot taken as the read begins, the SELECT: all in the loop's thread
        assert (counts["statements"], tally.round_trips(counts)) == (3, 0)


@pytest.mark.skipif(not POSTGRES_URL, reason="a PostgreSQL server closing connections")
async def test_connections_the_server_closed_are_replaced_without_an_error(
    client: httpx.AsyncClient,
) -> None:
    packet = await make_packet(client)
    # Fill the pool with idle connections, then have the server end every one of them.
    answers = await asyncio.gather(*(client.get(f"{API}/{packet['id']}") for _ in range(8)))
    assert {answer.status_code for answer in answers} == {200}
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        ended = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()
    assert ended >= 2
    await asyncio.sleep(0.2)  # the server's goodbye reaches the idle connections
    reads = await asyncio.gather(*(client.get(f"{API}/{packet['id']}") for _ in range(4)))
    assert [answer.status_code for answer in reads] == [200] * 4
    write = partial(add_item, client, packet["id"])
    await asyncio.gather(*(write(f"after-{n}") for n in range(4)))
    assert (await client.get(f"{API}/{packet['id']}")).json()["contents_count"] == 4


async def test_a_read_through_a_share_link_writes_after_its_answer(
    client: httpx.AsyncClient, tally: Tally
) -> None:
    packet = await make_packet(client)
    link = (await client.post(f"{API}/{packet['id']}/share", json={"shared_with": "public"})).json()
    url = f"{API}/shared/{link['access_token']}"
    assert (await client.get(url)).status_code == 200
    counts = await counted(tally, "link", client.get(url))
    # One read: the link, its uses of the last minute (its limit), the packet, its contents
    # and its comments (on SQLite after BEGIN and the read's snapshot); nothing written.
    assert (counts["writes"], counts["write locks"]) == (0, 0), counts
    assert counts["statements"] == (5 if POSTGRES_URL else 7), counts
    after = tally.counts["after: link"]
    # after it: the log row and the count, in one transaction (the custody entry was the
    # read's before, the link's first of the hour)
    assert after["writes"] >= 2 and after["commits"] == 1, after
