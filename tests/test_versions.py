"""Versions: numbering, content-addressed snapshots, listing, diff, restore, concurrency."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from arkham_shard_packets.db.tables import packet_snapshots, packet_versions

from .conftest import add_item, make_packet, packet_events
from .frame_users import Users

SNAPSHOT_PATH = re.compile(r"^sha256:[0-9a-f]{64}$")


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


async def versions_of(client: httpx.AsyncClient, packet_id: str) -> list[Any]:
    response = await client.get(f"/api/packets/{packet_id}/versions")
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()
    assert isinstance(items, list)
    return items


async def new_version(client: httpx.AsyncClient, packet_id: str, summary: str = "") -> Any:
    response = await client.post(
        f"/api/packets/{packet_id}/versions", json={"changes_summary": summary}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def count(engine: Any, table: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_creating_a_packet_records_version_1(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client)
    [first] = await versions_of(client, packet["id"])
    assert first["version_number"] == 1 == packet["version"]
    assert first["kind"] == "created"
    assert first["packet_id"] == packet["id"]
    assert SNAPSHOT_PATH.match(first["snapshot_path"])
    assert uuid.UUID(first["id"]).version == 4


async def test_create_version_from_body_or_query(client: httpx.AsyncClient, users: Users) -> None:
    tenant = "7c0f3a0e-0000-4000-8000-00000000000a"
    client.headers.update(users.headers(tenant))
    packet = await make_packet(client)
    pid = packet["id"]
    ana = users.user(tenant, email="ana@example.org")
    response = await client.post(
        f"/api/packets/{pid}/versions",
        json={"changes_summary": "after review"},
        headers=users.headers(tenant, email=ana.email),
    )
    assert response.status_code == 201
    version = response.json()
    for name in ("id", "packet_id", "version_number", "created_at", "changes_summary"):
        assert name in version
    assert version["version_number"] == 2
    assert version["changes_summary"] == "after review"
    assert version["kind"] == "manual"
    assert version["created_by"] == str(ana.id)
    assert SNAPSHOT_PATH.match(version["snapshot_path"])

    by_query = await client.post(
        f"/api/packets/{pid}/versions", params={"changes_summary": "seed client"}
    )
    assert by_query.status_code == 201
    assert by_query.json()["changes_summary"] == "seed client"
    assert by_query.json()["version_number"] == 3
    bare = await client.post(f"/api/packets/{pid}/versions")
    assert bare.status_code == 201
    assert bare.json()["changes_summary"] == ""

    assert (await client.get(f"/api/packets/{pid}")).json()["version"] == 4
    listed = await versions_of(client, pid)
    assert [v["version_number"] for v in listed] == [4, 3, 2, 1]

    created = [e["payload"] for e in await packet_events(client, "packets.version.created")]
    assert sorted(created, key=lambda p: int(p["version_number"])) == [
        {"packet_id": pid, "version_number": n} for n in (2, 3, 4)
    ]


async def test_version_input_errors(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client)
    pid = packet["id"]
    too_long = await client.post(
        f"/api/packets/{pid}/versions", json={"changes_summary": "x" * 2001}
    )
    assert too_long.status_code == 422
    wrong_type = await client.post(f"/api/packets/{pid}/versions", json={"changes_summary": 5})
    assert wrong_type.status_code == 422
    assert len(await versions_of(client, pid)) == 1

    missing = str(uuid.uuid4())
    for call in [
        client.post(f"/api/packets/{missing}/versions", json={}),
        client.get(f"/api/packets/{missing}/versions"),
        client.get(f"/api/packets/{missing}/versions/1"),
        client.get(f"/api/packets/{missing}/versions/1/diff/1"),
        client.post(f"/api/packets/{missing}/versions/1/restore"),
        client.get(f"/api/packets/{pid}/versions/7"),
        client.get(f"/api/packets/{pid}/versions/0"),
        client.get(f"/api/packets/{pid}/versions/1/diff/2"),
        client.post(f"/api/packets/{pid}/versions/5/restore"),
    ]:
        response = await call
        assert response.status_code == 404, response.request.url
        assert "not found" in response.json()["detail"]
    assert (await client.get(f"/api/packets/{pid}/versions/one")).status_code == 422


async def test_versions_of_sealed_and_archived_packets(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client)
    pid = packet["id"]
    await add_item(client, pid, "doc-1")
    sealed = (await client.post(f"/api/packets/{pid}/finalize")).json()
    assert sealed["version"] == 2
    [finalized] = [e["payload"] for e in await packet_events(client, "packets.packet.finalized")]
    assert finalized["version"] == 2
    frozen = (await versions_of(client, pid))[0]
    assert frozen["kind"] == "finalized"
    assert frozen["checksum"] == sealed["checksum"]
    assert frozen["checksum_recipe"] == 1

    later = await new_version(client, pid, "a finalized packet can still be versioned")
    assert later["version_number"] == 3
    assert later["checksum"] == sealed["checksum"]

    await client.post(f"/api/packets/{pid}/archive")
    refused = await client.post(f"/api/packets/{pid}/versions", json={"changes_summary": "no"})
    assert refused.status_code == 409
    assert "archived" in refused.json()["detail"]
    assert len(await versions_of(client, pid)) == 3


async def test_a_version_returns_its_snapshot(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client, "Snap", metadata={"k": [1, 2]})
    pid = packet["id"]
    entry = await add_item(client, pid, "doc-1", content_title="Memo", order=4, data={"p": 3})
    version = await new_version(client, pid, "with memo")
    response = await client.get(f"/api/packets/{pid}/versions/{version['version_number']}")
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == version
    snapshot = body["snapshot"]
    assert snapshot["format"] == "arkham-packet-snapshot/1"
    assert snapshot["packet"]["name"] == "Snap"
    assert snapshot["packet"]["metadata"] == {"k": [1, 2]}
    assert snapshot["packet"]["status"] == "draft"
    [item] = snapshot["contents"]
    assert item["id"] == entry["id"]
    assert item["content_title"] == "Memo"
    assert item["order_num"] == 4
    assert item["data"] == {"p": 3}
    # The body is content-addressed: its canonical JSON hashes to the version's path.
    assert "sha256:" + hashlib.sha256(canonical(snapshot)).hexdigest() == version["snapshot_path"]
    first = (await client.get(f"/api/packets/{pid}/versions/1")).json()
    assert first["snapshot"]["contents"] == []


async def test_identical_snapshots_are_stored_once(client: httpx.AsyncClient, engine: Any) -> None:
    packet = await make_packet(client)
    pid = packet["id"]
    await add_item(client, pid, "doc-1", data={"x": 1})
    bodies_before = await count(engine, packet_snapshots)
    one = await new_version(client, pid, "first")
    two = await new_version(client, pid, "nothing changed")
    assert one["version_number"] + 1 == two["version_number"]
    assert one["snapshot_path"] == two["snapshot_path"]
    assert await count(engine, packet_snapshots) == bodies_before + 1

    await add_item(client, pid, "doc-2")
    three = await new_version(client, pid, "changed")
    assert three["snapshot_path"] != two["snapshot_path"]
    assert await count(engine, packet_snapshots) == bodies_before + 2
    assert await count(engine, packet_versions) == 4  # 1 (created), 2, 3, 4

    async with engine.connect() as conn:
        rows = (await conn.execute(select(packet_snapshots))).mappings().all()
    for row in rows:
        assert hashlib.sha256(row["body"].encode()).hexdigest() == row["digest"]
        assert row["size_bytes"] == len(row["body"].encode())


async def test_diff_two_versions(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client, "Before", metadata={"case": 1})
    pid = packet["id"]
    kept = await add_item(client, pid, "doc-1", content_title="Memo", order=1, data={"v": 1})
    entity = await add_item(client, pid, "ent-1", "entity", content_title="ACME", order=2)
    await add_item(client, pid, "claim-1", "claim", content_title="Same", order=3)
    base = await new_version(client, pid, "base")

    await client.put(f"/api/packets/{pid}", json={"name": "After", "metadata": {"case": 2}})
    await client.delete(f"/api/packets/{pid}/contents/{kept['id']}")
    await add_item(client, pid, "doc-1", content_title="Memo v2", order=5, data={"v": 2})
    await client.delete(f"/api/packets/{pid}/contents/{entity['id']}")
    await add_item(client, pid, "rep-1", "report", content_title="Summary", order=0)
    head = await new_version(client, pid, "head")

    url = f"/api/packets/{pid}/versions/{base['version_number']}/diff/{head['version_number']}"
    response = await client.get(url)
    assert response.status_code == 200
    diff = response.json()
    assert diff["packet_id"] == pid
    assert diff["from_version"] == base["version_number"]
    assert diff["to_version"] == head["version_number"]
    fields = {c["field"]: (c["before"], c["after"]) for c in diff["fields_changed"]}
    assert fields["name"] == ("Before", "After")
    assert fields["metadata"] == ({"case": 1}, {"case": 2})
    assert "description" not in fields
    assert diff["contents_added"] == [
        {"content_type": "report", "content_id": "rep-1", "content_title": "Summary", "order": 0}
    ]
    assert diff["contents_removed"] == [
        {"content_type": "entity", "content_id": "ent-1", "content_title": "ACME", "order": 2}
    ]
    [changed] = diff["contents_changed"]
    assert (changed["content_type"], changed["content_id"]) == ("document", "doc-1")
    assert {c["field"]: (c["before"], c["after"]) for c in changed["changes"]} == {
        "content_title": ("Memo", "Memo v2"),
        "order": (1, 5),
        "data": ({"v": 1}, {"v": 2}),
    }

    same = (await client.get(f"/api/packets/{pid}/versions/2/diff/2")).json()
    assert same["fields_changed"] == []
    assert same["contents_added"] == same["contents_removed"] == same["contents_changed"] == []
    backwards = (
        await client.get(
            f"/api/packets/{pid}/versions/{head['version_number']}/diff/{base['version_number']}"
        )
    ).json()
    assert backwards["contents_added"] == diff["contents_removed"]


async def test_restore_round_trip(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client, "Original", description="first", metadata={"a": 1})
    pid = packet["id"]
    await add_item(client, pid, "doc-1", content_title="Memo", order=1, data={"pages": 3})
    await add_item(client, pid, "ent-1", "entity", content_title="ACME", order=2)
    saved = await new_version(client, pid, "good state")
    saved_contents = (await client.get(f"/api/packets/{pid}/contents")).json()
    saved_packet = (await client.get(f"/api/packets/{pid}")).json()

    await client.put(
        f"/api/packets/{pid}",
        json={"name": "Mangled", "description": "", "visibility": "public", "metadata": {}},
    )
    for item in saved_contents:
        await client.delete(f"/api/packets/{pid}/contents/{item['id']}")
    await add_item(client, pid, "junk", "report", data={"big": "x" * 50})
    history_before = await versions_of(client, pid)

    response = await client.post(f"/api/packets/{pid}/versions/{saved['version_number']}/restore")
    assert response.status_code == 200, response.text
    restored = response.json()
    version = restored["version"]
    assert version["kind"] == "restored"
    assert version["changes_summary"] == f"restored from version {saved['version_number']}"
    assert version["version_number"] == history_before[0]["version_number"] + 1
    assert version["snapshot_path"] == saved["snapshot_path"]  # the same state, stored once

    current = restored["packet"]
    assert current == (await client.get(f"/api/packets/{pid}")).json()
    for name in ("name", "description", "visibility", "metadata", "contents_count", "size_bytes"):
        assert current[name] == saved_packet[name], name
    assert current["version"] == version["version_number"]
    assert current["status"] == "draft"
    contents = (await client.get(f"/api/packets/{pid}/contents")).json()
    assert contents == saved_contents

    history_after = await versions_of(client, pid)
    assert history_after[1:] == history_before  # nothing earlier rewritten or removed
    updated = [e["payload"] for e in await packet_events(client, "packets.packet.updated")]
    assert {"packet_id": pid, "restored_from": saved["version_number"]} in updated

    sealed = (await client.post(f"/api/packets/{pid}/finalize")).json()
    assert sealed["checksum"] == (await client.get(f"/api/packets/{pid}/verify")).json()["computed"]


async def test_restore_only_on_a_draft(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client)
    pid = packet["id"]
    await add_item(client, pid, "doc-1")
    sealed = (await client.post(f"/api/packets/{pid}/finalize")).json()
    response = await client.post(f"/api/packets/{pid}/versions/1/restore")
    assert response.status_code == 409
    assert "only a draft can be restored" in response.json()["detail"]
    assert (await client.get(f"/api/packets/{pid}")).json() == sealed
    assert len((await client.get(f"/api/packets/{pid}/contents")).json()) == 1


async def test_twenty_concurrent_versions_get_consecutive_numbers(
    client: httpx.AsyncClient, engine: Any
) -> None:
    packet = await make_packet(client)
    pid = packet["id"]
    responses = await asyncio.gather(
        *(
            client.post(f"/api/packets/{pid}/versions", json={"changes_summary": f"run {i}"})
            for i in range(20)
        )
    )
    assert [r.status_code for r in responses] == [201] * 20
    numbers = sorted(r.json()["version_number"] for r in responses)
    assert numbers == list(range(2, 22))
    assert (await client.get(f"/api/packets/{pid}")).json()["version"] == 21
    listed = [v["version_number"] for v in await versions_of(client, pid)]
    assert listed == list(range(21, 0, -1))
    assert await count(engine, packet_versions) == 21


async def test_versions_are_tenant_scoped(client: httpx.AsyncClient, users: Users) -> None:
    tenant_a = users.headers("7c0f3a0e-0000-4000-8000-00000000000a")
    tenant_b = users.headers("7c0f3a0e-0000-4000-8000-00000000000b")
    mine = (await client.post("/api/packets/", json={"name": "A's"}, headers=tenant_a)).json()
    pid = mine["id"]
    made = await client.post(f"/api/packets/{pid}/versions", json={}, headers=tenant_a)
    assert made.status_code == 201
    for call in [
        client.get(f"/api/packets/{pid}/versions", headers=tenant_b),
        client.get(f"/api/packets/{pid}/versions/1", headers=tenant_b),
        client.post(f"/api/packets/{pid}/versions", json={}, headers=tenant_b),
        client.post(f"/api/packets/{pid}/versions/1/restore", headers=tenant_b),
        client.get(f"/api/packets/{pid}/verify", headers=tenant_b),
    ]:
        assert (await call).status_code == 404
    own = await client.get(f"/api/packets/{pid}/versions/2", headers=tenant_a)
    assert own.status_code == 200
