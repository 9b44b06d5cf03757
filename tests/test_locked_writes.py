"""A content add and an edit in one statement on PostgreSQL (records/locks.py,
`lock_at_commit`): the custody entry finished in SQL is the canonical JSON of its fields, a
refusal writes nothing and says why, and the rows belong to the packet's tenant. The same
requests run on SQLite, where they take the packet's lock at once, with the same answers."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from sqlalchemy import func, select

from arkham_shard_packets.db.tables import outbox, packet_contents, packet_custody, packets

from .conftest import add_item, make_packet
from .custody_helpers import canonical, check_chain_independently, sha256
from .frame_users import Users
from .test_tenant_walk import packet_tenants

API = "/api/packets"
TENANT_A, TENANT_B = "0a0a0a0a-0000-4000-8000-00000000000a", "0b0b0b0b-0000-4000-8000-00000000000b"
AWKWARD = ['café "quoted" \\ back', "line\nbreak\ttab", "emoji 🧾 and \u0001", "中文 \uff21\uff22"]


async def stored_state(engine: Any, packet_id: str) -> dict[str, Any]:
    """What a refused change must leave as it was: the packet's row, items, log and events."""
    async with engine.connect() as conn:
        row = (await conn.execute(select(packets).where(packets.c.id == packet_id))).first()
        items = await conn.scalar(
            select(func.count()).where(packet_contents.c.packet_id == packet_id)
        )
        entries = (
            await conn.execute(
                select(packet_custody.c.entry).where(packet_custody.c.packet_id == packet_id)
            )
        ).all()
        events = await conn.scalar(select(func.count()).select_from(outbox))
    return {"packet": row, "items": items, "log": sorted(entries), "events": events}


async def checked_log(engine: Any, packet_id: str) -> tuple[list[dict[str, Any]], str]:
    """The packet's stored custody entries, each checked byte for byte against Python's
    canonical JSON of its fields (as a verifier recomputes it), its hash, and the chain with
    `hashlib` alone; and the head's hash."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(packet_custody.c.entry, packet_custody.c.entry_sha256)
                .where(packet_custody.c.packet_id == packet_id)
                .order_by(packet_custody.c.position)
            )
        ).all()
    entries = [json.loads(text) for text, _ in rows]
    for (text, digest), entry in zip(rows, entries, strict=True):
        assert text.encode() == canonical(entry)
        assert digest == sha256(text.encode())
    check_chain_independently(entries)
    return entries, rows[-1][1]


async def test_an_entry_finished_in_sql_is_the_canonical_json_of_its_fields(
    client: httpx.AsyncClient, engine: Any
) -> None:
    packet = (await make_packet(client, "awkward"))["id"]
    for n, name in enumerate(AWKWARD):
        await add_item(client, packet, name, content_title=f"title {name}")
        edited = await client.put(f"{API}/{packet}", json={"description": name, "name": f"n{n}"})
        assert edited.status_code == 200, edited.text
        assert (edited.json()["description"], edited.json()["name"]) == (name, f"n{n}")
    entries, head = await checked_log(engine, packet)
    assert [entry["details"].get("content_id") for entry in entries[1::2]] == AWKWARD
    log = (await client.get(f"{API}/{packet}/custody")).json()
    assert (log["intact"], log["length"], log["head"]) == (True, 9, head)
    assert (await client.get(f"{API}/{packet}/verify")).json()["custody_intact"] is True


async def test_refusals_write_nothing_and_say_why(
    client: httpx.AsyncClient, engine: Any, users: Users
) -> None:
    draft = (await make_packet(client, "draft"))["id"]
    first = await add_item(client, draft, "c1", "claim")
    sealed = (await make_packet(client, "sealed"))["id"]
    assert (await client.post(f"{API}/{sealed}/finalize")).status_code == 200
    made = await client.post(f"{API}/", json={"name": "theirs"}, headers=users.headers(TENANT_B))
    theirs = made.json()["id"]
    refusals = [
        (draft, {"content_type": "claim", "content_id": "c1"}, 409, "claim c1 is already in"),
        (sealed, {"content_type": "claim", "content_id": "c2"}, 409, "only a draft can be"),
        (theirs, {"content_type": "claim", "content_id": "c3"}, 404, "not found"),
        ("no-such-packet", {"content_type": "claim", "content_id": "c4"}, 404, "not found"),
    ]
    ana = users.headers(TENANT_A)
    for packet, body, status, detail in refusals:
        before = await stored_state(engine, packet)
        added = await client.post(f"{API}/{packet}/contents", json=body, headers=ana)
        assert added.status_code == status and detail in added.json()["detail"], added.json()
        if packet != draft:  # the same refusal of an edit
            edited = await client.put(f"{API}/{packet}", json={"name": "x"}, headers=ana)
            assert edited.status_code == status and detail in edited.json()["detail"]
        assert await stored_state(engine, packet) == before, packet
    contents = (await client.get(f"{API}/{draft}/contents")).json()
    assert [item["id"] for item in contents] == [first["id"]]
    assert (await client.get(f"{API}/{draft}")).json()["contents_count"] == 1


async def test_concurrent_adds_of_one_item_add_it_once(
    client: httpx.AsyncClient, engine: Any
) -> None:
    packet = (await make_packet(client, "race"))["id"]
    body = {"content_type": "entity", "content_id": "e-1"}
    answers = await asyncio.gather(
        *(client.post(f"{API}/{packet}/contents", json=body) for _ in range(8))
    )
    assert sorted(answer.status_code for answer in answers) == [201] + [409] * 7
    state = await stored_state(engine, packet)
    assert state["items"] == 1 and len(state["log"]) == 2
    assert (await client.get(f"{API}/{packet}")).json()["contents_count"] == 1
    ordered = [await add_item(client, packet, f"next {n}") for n in range(3)]
    assert [item["order"] for item in ordered] == [1, 2, 3]


async def test_a_tenant_s_user_changing_a_tenantless_packet_writes_tenantless_rows(
    client: httpx.AsyncClient, engine: Any, users: Users
) -> None:
    packet = (await make_packet(client, "open to all"))["id"]
    ana = users.headers(TENANT_A)
    added = await client.post(
        f"{API}/{packet}/contents", json={"content_type": "claim", "content_id": "k"}, headers=ana
    )
    assert added.status_code == 201, added.text
    edited = await client.put(f"{API}/{packet}", json={"name": "renamed"}, headers=ana)
    assert edited.status_code == 200, edited.text
    tenants = await packet_tenants(engine, {packet})
    assert all(found == {None} for found in tenants.values() if found), tenants


async def test_a_share_promotes_a_sealed_packet_and_is_refused_as_before(
    client: httpx.AsyncClient, engine: Any
) -> None:
    link = {"shared_with": "public"}
    draft = (await make_packet(client, "draft"))["id"]
    sealed = (await make_packet(client, "sealed"))["id"]
    assert (await client.post(f"{API}/{sealed}/finalize")).status_code == 200
    for packet, after in [(draft, "draft"), (sealed, "shared"), (sealed, "shared")]:
        shared = await client.post(f"{API}/{packet}/share", json=link)
        assert shared.status_code == 201, shared.text
        assert (await client.get(f"{API}/{packet}")).json()["status"] == after
    assert (await client.post(f"{API}/{sealed}/archive")).status_code == 200
    for packet, status, detail in [
        (sealed, 409, "it can't be shared"),
        ("no-such-packet", 404, "not found"),
    ]:
        before = await stored_state(engine, packet)
        refused = await client.post(f"{API}/{packet}/share", json=link)
        assert refused.status_code == status and detail in refused.json()["detail"], refused.text
        assert await stored_state(engine, packet) == before
    log = (await client.get(f"{API}/{sealed}/custody")).json()
    assert [entry["event"] for entry in log["entries"]][-3:] == ["shared", "shared", "archived"]
    assert log["intact"] is True
