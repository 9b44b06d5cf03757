"""An import answers the same whether or not another tenant has a packet with the bundle's id
(issue 25, item 15): a caller with a tenant gets a packet of its own either way, under an id
made of its tenant and the bundle's, which a second import of the bundle finds again."""

from __future__ import annotations

import io
import re
from typing import Any

import httpx
from sqlalchemy import delete

from arkham_shard_packets.db import tables

from .frame_users import Users

API = "/api/packets"
OWNER, IMPORTER = "7c0f3a0e-0000-4000-8000-0000000001d1", "7c0f3a0e-0000-4000-8000-0000000001d2"
# what must differ between the answers for two bundles: their packets and when each was made
DIFFERENT = {"packet_id", "imported_at"}
CLAIMED_TIMES = {"created_at", "finalized_at"}


async def sealed_bundle(client: httpx.AsyncClient, headers: dict[str, str]) -> tuple[str, bytes]:
    """One packet of the same name and items every time, sealed, and its zip bundle."""
    packet = await client.post(f"{API}/", json={"name": "Twin", "metadata": {}}, headers=headers)
    pid = packet.json()["id"]
    item = {"content_type": "claim", "content_id": "claim-1", "data": {"text": "same"}}
    assert (await client.post(f"{API}/{pid}/contents", json=item, headers=headers)).is_success
    assert (await client.post(f"{API}/{pid}/finalize", headers=headers)).status_code == 200
    made = await client.post(f"{API}/{pid}/export", json={"format": "zip"}, headers=headers)
    download = await client.get(made.json()["download_url"], headers=headers)
    assert download.status_code == 200, download.text
    return pid, download.content


async def forget(engine: Any, packet_id: str) -> None:
    """Remove a packet and all its rows, as if it had only ever been on another machine."""
    async with engine.begin() as conn:
        for table in tables.metadata.sorted_tables[::-1]:
            if "packet_id" in table.c and table is not tables.packets:
                await conn.execute(delete(table).where(table.c.packet_id == packet_id))
        await conn.execute(delete(tables.packets).where(tables.packets.c.id == packet_id))


async def imported(
    client: httpx.AsyncClient, headers: dict[str, str], bundle: bytes, mode: str = "replace"
) -> tuple[int, dict[str, Any]]:
    response = await client.post(
        f"{API}/import",
        files={"file": ("bundle.zip", io.BytesIO(bundle))},
        data={"merge_mode": mode},
        headers=headers,
    )
    return response.status_code, response.json()


async def owners_view(client: httpx.AsyncClient, owner: dict[str, str], pid: str) -> list[Any]:
    paths = ["", "/contents", "/versions", "/custody", "/verify"]
    answers = [await client.get(f"{API}/{pid}{path}", headers=owner) for path in paths]
    views = [answer.json() for answer in answers]
    views[-1].pop("checked_at")
    return views


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def comparable(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer with what differs between two bundles taken out (times, ids)."""
    claimed = {k: v for k, v in answer["claimed"].items() if k not in CLAIMED_TIMES}
    warnings = [
        UUID.sub("<id>", note.replace(answer["packet_id"], "<mine>")) for note in answer["warnings"]
    ]
    kept = {k: v for k, v in answer.items() if k not in DIFFERENT}
    return kept | {"claimed": claimed, "warnings": warnings}


async def test_an_id_taken_in_another_tenant_changes_nothing_in_the_answer(
    client: httpx.AsyncClient, users: Users, engine: Any
) -> None:
    owner, importer = users.headers(OWNER), users.headers(IMPORTER)
    taken, taken_bundle = await sealed_bundle(client, owner)
    free, free_bundle = await sealed_bundle(client, owner)
    await forget(engine, free)
    owners_before = await owners_view(client, owner, taken)

    answers = {}
    for bundle_id, bundle in ((taken, taken_bundle), (free, free_bundle)):
        status, answer = await imported(client, importer, bundle)
        assert status == 201, answer
        assert answer["packet_id"] != bundle_id  # a packet of the importer's own, either way
        answers[bundle_id] = answer
    assert comparable(answers[taken]) == comparable(answers[free])
    assert answers[taken]["errors"] == answers[free]["errors"] == []
    assert answers[taken]["verified"] is True and answers[taken]["trusted"] is True

    for bundle_id, bundle in ((taken, taken_bundle), (free, free_bundle)):
        mine = answers[bundle_id]["packet_id"]
        verified = await client.get(f"{API}/{mine}/verify", headers=importer)
        assert verified.json()["valid"] is True, verified.json()["problems"]
        # the same bundle again finds the importer's packet, whatever the mode
        status, skipped = await imported(client, importer, bundle, "skip")
        assert (status, skipped["packet_id"], skipped["skipped"]) == (201, mine, True)
        status, refused = await imported(client, importer, bundle, "replace")
        assert status == 409 and mine in refused["detail"] and bundle_id not in refused["detail"]
    # the owner's packet was neither touched nor shown
    assert await owners_view(client, owner, taken) == owners_before
    listed = (await client.get(f"{API}/", headers=importer)).json()["items"]
    assert {p["id"] for p in listed} == {answer["packet_id"] for answer in answers.values()}


async def test_a_bundle_of_the_callers_own_packet_is_imported_into_it(
    client: httpx.AsyncClient, users: Users
) -> None:
    """Where the caller sees the bundle's packet, the merge modes apply to it, as before."""
    owner = users.headers(OWNER)
    pid, bundle = await sealed_bundle(client, owner)
    status, answer = await imported(client, owner, bundle, "skip")
    assert (status, answer["packet_id"], answer["skipped"]) == (201, pid, True)
    status, refused = await imported(client, owner, bundle, "replace")
    assert status == 409 and pid in refused["detail"]
