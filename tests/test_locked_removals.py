"""A removal in one statement on PostgreSQL (records/locks.py, `lock_at_commit(removing=)`,
migration 0019): the item's type and id, known to SQL only, come out in the custody entry as
Python's canonical JSON would write them and in the event as sent; the packet's counts go down
by the item; a refusal writes nothing and says why; concurrent removals each take their own
item once. The same requests run on SQLite, where the packet is locked at once."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from sqlalchemy import select

from arkham_shard_packets.db.tables import outbox, packet_custody

from .conftest import add_item, make_packet
from .custody_helpers import canonical
from .frame_users import Users
from .test_locked_writes import AWKWARD, TENANT_A, TENANT_B, checked_log, stored_state

API = "/api/packets"
# What SQL's format() and a JSON escape must leave as they are
ODD = [*AWKWARD, "100% sure, %s and %% and %1$s", "\u2028 \u007f \\u0041"]


async def remove(client: httpx.AsyncClient, packet: str, entry: str, **headers: Any) -> Any:
    return await client.delete(f"{API}/{packet}/contents/{entry}", headers=headers)


async def removal_events(engine: Any) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        found = await conn.execute(
            select(outbox.c.payload)
            .where(outbox.c.event_type == "packets.content.removed")
            .order_by(outbox.c.sequence)
        )
        return [json.loads(payload) for (payload,) in found]


async def test_a_removal_s_entry_and_event_name_the_item_as_it_was(
    client: httpx.AsyncClient, engine: Any
) -> None:
    packet = (await make_packet(client, "odd"))["id"]
    items = [
        await add_item(client, packet, name, content_type=kind, data={"note": name})
        for name, kind in zip(ODD, ["claim", "document", "entity"] * 3, strict=False)
    ]
    await add_item(client, packet, "kept", data={"note": "stays ✓"})
    for item in items:
        assert (await remove(client, packet, item["id"])).status_code == 204
    entries, _ = await checked_log(engine, packet)
    removed = [entry for entry in entries if entry["event"] == "item_removed"]
    expected = [
        {"content_entry_id": item["id"], "content_id": item["content_id"], "content_type": kind}
        for item, kind in ((item, item["content_type"]) for item in items)
    ]
    assert [entry["details"] for entry in removed] == expected
    events = await removal_events(engine)
    assert events == [{"packet_id": packet, **details} for details in expected]
    answer = (await client.get(f"{API}/{packet}")).json()
    assert answer["contents_count"] == 1
    assert answer["size_bytes"] == len(canonical({"note": "stays ✓"}))
    assert (await client.get(f"{API}/{packet}/verify")).json()["custody_intact"] is True


async def test_a_refused_removal_writes_nothing_and_says_why(
    client: httpx.AsyncClient, engine: Any, users: Users
) -> None:
    draft = (await make_packet(client, "draft"))["id"]
    item = await add_item(client, draft, "c1", "claim")
    other = (await make_packet(client, "other"))["id"]
    elsewhere = await add_item(client, other, "c9", "claim")
    sealed = (await make_packet(client, "sealed"))["id"]
    sealed_item = await add_item(client, sealed, "c2", "claim")
    assert (await client.post(f"{API}/{sealed}/finalize")).status_code == 200
    made = await client.post(f"{API}/", json={"name": "theirs"}, headers=users.headers(TENANT_B))
    theirs = made.json()["id"]
    their_item = await client.post(
        f"{API}/{theirs}/contents",
        json={"content_type": "claim", "content_id": "c3"},
        headers=users.headers(TENANT_B),
    )
    refusals = [
        (draft, "no-such-entry", 404, "no-such-entry"),
        (draft, elsewhere["id"], 404, elsewhere["id"]),
        (sealed, sealed_item["id"], 409, "only a draft can be"),
        (theirs, their_item.json()["id"], 404, "not found"),
        ("no-such-packet", item["id"], 404, "not found"),
    ]
    for packet, entry, status, detail in refusals:
        before = await stored_state(engine, packet)
        answer = await remove(client, packet, entry, **users.headers(TENANT_A))
        assert answer.status_code == status, answer.text
        assert detail in answer.json()["detail"], answer.json()
        assert await stored_state(engine, packet) == before, packet
    assert (await client.get(f"{API}/{draft}")).json()["contents_count"] == 1
    assert (await client.get(f"{API}/{other}")).json()["contents_count"] == 1


async def test_concurrent_removals_take_each_item_once(
    client: httpx.AsyncClient, engine: Any
) -> None:
    packet = (await make_packet(client, "race"))["id"]
    items = [await add_item(client, packet, f"i{n}", data={"n": "x" * n}) for n in range(6)]
    same = await asyncio.gather(*(remove(client, packet, items[0]["id"]) for _ in range(6)))
    assert sorted(answer.status_code for answer in same) == [204] + [404] * 5
    rest = items[1:]
    added = [
        client.post(f"{API}/{packet}/contents", json={"content_type": "claim", "content_id": n})
        for n in ("k1", "k2")
    ]
    answers = await asyncio.gather(*(remove(client, packet, i["id"]) for i in rest), *added)
    assert [answer.status_code for answer in answers] == [204] * 5 + [201] * 2
    state = await stored_state(engine, packet)
    assert state["items"] == 2 and len(state["log"]) == 1 + 6 + 2 + 6
    answer = (await client.get(f"{API}/{packet}")).json()
    assert (answer["contents_count"], answer["size_bytes"]) == (2, 0)
    assert len(await removal_events(engine)) == 6
    assert (await client.get(f"{API}/{packet}/verify")).json()["custody_intact"] is True


async def test_a_tenant_s_removal_is_its_packet_s_tenant_s(
    client: httpx.AsyncClient, engine: Any, users: Users
) -> None:
    ana = users.headers(TENANT_A)
    made = await client.post(f"{API}/", json={"name": "ours"}, headers=ana)
    packet = made.json()["id"]
    added = await client.post(
        f"{API}/{packet}/contents", json={"content_type": "claim", "content_id": "k"}, headers=ana
    )
    assert (await remove(client, packet, added.json()["id"], **ana)).status_code == 204
    async with engine.connect() as conn:
        tenants = (
            await conn.execute(
                select(outbox.c.tenant_id).where(outbox.c.event_type == "packets.content.removed")
            )
        ).all()
        entry_tenants = (
            await conn.execute(
                select(packet_custody.c.tenant_id).where(packet_custody.c.packet_id == packet)
            )
        ).all()
    assert tenants == [(TENANT_A,)]
    assert {tenant for (tenant,) in entry_tenants} == {TENANT_A}
